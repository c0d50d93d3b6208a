"""The files of an :func:`~camwidgets.explain_dataset` run, in its ``out`` folder.

* ``config.json``: the run's settings, written first; a resumed run must have the same ones.
* ``chunks/NNNNNN.parquet`` + ``chunks/NNNNNN.done``: the table rows of chunk N (rows
  ``N * chunk_rows`` on), each written to a temporary file and renamed into place, the marker last:
  a chunk counts as finished only when its marker exists, so a crash loses at most the chunk in flight.
* ``maps.zarr``: arrays ``grid`` (rows, h, w) and ``display`` (rows, S, S) of uint8 maps
  (``round(255 * map)``) and ``photos`` (rows, S, S, 3), the images as the model saw them, for
  thumbnails; one zarr chunk per table chunk, so ranks write disjoint chunks.
* ``table.parquet``: every chunk's rows in row order, and ``manifest.json``, written last by rank 0.
* ``.lock``: held (``flock``) by the run using the folder; a second run is refused.

A resumed run checks every finished chunk (its rows are the chunk's rows, its maps are there) and
computes a damaged one again; the merge checks them once more.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.atomic_files import write_atomically

__all__ = ["RunFiles", "write_atomically", "read_json", "chunk_span", "ARRAYS"]


class RunFiles:
    """Paths and writers of one run's folder (see the module docstring)."""

    def __init__(self, out: str | Path) -> None:
        self.root = Path(out)
        self.chunks = self.root / "chunks"
        self.config = self.root / "config.json"
        self.maps = self.root / "maps.zarr"
        self.table = self.root / "table.parquet"
        self.manifest = self.root / "manifest.json"

    def chunk(self, index: int) -> Path:
        return self.chunks / f"{index:06d}.parquet"

    def marker(self, index: int) -> Path:
        return self.chunks / f"{index:06d}.done"

    def finished(self, index: int) -> bool:
        return self.marker(index).exists()

    def start(self, config: dict[str, Any], resume: bool) -> None:
        """Make the folder for a run with ``config``: a resumed run must match the one there; a fresh
        one (``resume=False``) removes what an earlier run left."""
        import shutil

        if self.config.exists():
            if resume:
                before = read_json(self.config, "pass resume=False to start the run again")
                if before != config:
                    changed = sorted(key for key in set(before) | set(config) if before.get(key) != config.get(key))
                    raise ValueError(
                        f"{self.root} holds a run with other settings ({', '.join(changed)} differ); "
                        "pass another out folder, or resume=False to start it again"
                    )
                return
            for path in (self.chunks, self.maps):
                shutil.rmtree(path, ignore_errors=True)
            for path in (self.table, self.manifest):
                path.unlink(missing_ok=True)
        self.chunks.mkdir(parents=True, exist_ok=True)
        write_atomically(self.config, json.dumps(config, indent=1, sort_keys=True).encode())

    def create_maps(self, rows: int, chunk_rows: int, grid: Sequence[int], display: int) -> None:
        """The two uint8 map arrays, if they do not exist yet (rank 0, before the others write)."""
        import zarr

        if self.maps.exists():
            return
        group = zarr.open_group(str(self.maps), mode="w")
        group.create_array("grid", shape=(rows, *grid), chunks=(chunk_rows, *grid), dtype="uint8", fill_value=0)
        group.create_array(
            "display",
            shape=(rows, display, display),
            chunks=(chunk_rows, display, display),
            dtype="uint8",
            fill_value=0,
        )
        group.create_array(
            "photos",
            shape=(rows, display, display, 3),
            chunks=(chunk_rows, display, display, 3),
            dtype="uint8",
            fill_value=0,
        )

    def write_chunk(
        self, index: int, start: int, table: Any, grid: np.ndarray, display: np.ndarray, photos: np.ndarray
    ) -> None:
        """Chunk ``index`` (rows ``start`` on): maps and photos first, then its table rows, then its marker."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        import zarr

        group = zarr.open_group(str(self.maps), mode="r+")
        for name, values in (("grid", grid), ("display", display), ("photos", photos)):
            group[name].with_config(WRITTEN)[start : start + len(values)] = values
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        write_atomically(self.chunk(index), sink.getvalue().to_pybytes())
        write_atomically(self.marker(index), json.dumps({"rows": len(grid)}).encode())

    @contextlib.contextmanager
    def lock(self, what: str) -> Iterator[None]:
        """Hold ``out``'s lock for a run (``flock`` on ``out/.lock``, released when the process ends,
        even by kill -9): a second run into the same folder is refused with a message naming the
        first, instead of mixing its files with it."""
        import fcntl
        import socket
        import time

        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / ".lock"
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(handle, 500).decode("utf-8", "replace").strip() or "another process"
                raise RuntimeError(
                    f"{self.root} is in use by another run ({holder}); wait for it to finish, or pass another out folder"
                ) from None
            started = time.strftime("%Y-%m-%d %H:%M:%S")
            os.ftruncate(handle, 0)
            os.pwrite(handle, f"{what}, process {os.getpid()} on {socket.gethostname()}, started {started}".encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(handle, 0)  # an empty .lock: no run holds the folder
        finally:
            os.close(handle)  # closing releases the flock

    def chunk_problem(self, index: int, start: int, count: int) -> str | None:
        """What is wrong with finished chunk ``index`` (rows ``start`` to ``start + count - 1``): its
        table file unreadable or holding other rows, or its maps missing; None when it is whole."""
        import pyarrow.parquet as pq

        try:
            ids = pq.read_table(self.chunk(index), columns=["id"]).column("id").to_pylist()
        except Exception as error:  # a missing, truncated or foreign file
            return f"{self.chunk(index).relative_to(self.root)} cannot be read ({type(error).__name__}: {str(error)[:120]})"
        if ids != list(range(start, start + count)):
            return f"{self.chunk(index).relative_to(self.root)} holds rows {_span(ids)}, not rows {start} to {start + count - 1}"
        for name in ARRAYS:
            dimensions = self._dimensions(name)
            if not self.maps.joinpath(name, "c", str(index), *["0"] * (dimensions - 1)).is_file():
                return f"maps.zarr/{name} has no maps for chunk {index} (rows {start} to {start + count - 1})"
        return None

    def _dimensions(self, name: str) -> int:
        """The axes of zarr array ``name`` as created (the grid has one per input axis: 1 to 3), from
        its metadata; :data:`ARRAYS`' count when that cannot be read."""
        try:
            return len(read_json(self.maps / name / "zarr.json", "")["shape"])
        except (OSError, ValueError, KeyError, TypeError):
            return ARRAYS[name]

    def recheck_finished(self, chunks: int, chunk_rows: int, rows: int) -> list[str]:
        """Before a resumed run: each finished chunk that is not whole (:meth:`chunk_problem`) is
        marked unfinished, so the run computes it again; returns what was found (also warned)."""
        import warnings

        found = []
        for index in range(chunks):
            if self.finished(index):
                problem = self.chunk_problem(index, *chunk_span(index, chunk_rows, rows))
                if problem:
                    found.append(problem)
                    self.marker(index).unlink(missing_ok=True)
        if found:
            warnings.warn(f"{self.root}: computing again what was damaged: {'; '.join(found)}", stacklevel=3)
        return found

    def merge(self, chunks: int, chunk_rows: int, manifest: dict[str, Any]) -> None:
        """``table.parquet`` from every chunk in order, then ``manifest.json`` with the count of failed
        rows (rank 0, after all ranks finished); every chunk is checked first (:meth:`chunk_problem`)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        missing = [index for index in range(chunks) if not self.finished(index)]
        if missing:
            raise RuntimeError(
                f"chunks {missing[:5]} of {self.root} are not finished; run again with resume=True to finish them"
            )
        rows = int(manifest["rows"])
        problems = [p for p in (self.chunk_problem(i, *chunk_span(i, chunk_rows, rows)) for i in range(chunks)) if p]
        if problems:
            raise RuntimeError(
                f"{self.root}: {'; '.join(problems[:3])}; run again with resume=True to compute those chunks again"
            )
        table = pa.concat_tables([pq.read_table(self.chunk(index)) for index in range(chunks)])
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        write_atomically(self.table, sink.getvalue().to_pybytes())
        failed = sum(1 for error in table.column("error").to_pylist() if error)
        write_atomically(self.manifest, json.dumps({**manifest, "failed": failed}, indent=1, sort_keys=True).encode())


#: Every finished chunk's maps are written, even all zeros (a failed chunk), so a missing file shows.
WRITTEN = {"write_empty_chunks": True}

#: The zarr arrays of a run, row-aligned with its table, and their dimensions (an image's grid;
#: a signal's has 2, a volume's or clip's 4).
ARRAYS = {"grid": 3, "display": 3, "photos": 4}


def chunk_span(index: int, chunk_rows: int, rows: int) -> tuple[int, int]:
    """(first row, row count) of chunk ``index`` of a run of ``rows`` rows."""
    start = index * chunk_rows
    return start, min(chunk_rows, rows - start)


def _span(ids: Sequence[int]) -> str:
    return f"{ids[0]} to {ids[-1]} ({len(ids)} rows)" if ids else "none"


def read_json(path: Path, recovery: str) -> Any:
    """The JSON document at ``path``; ValueError naming the file and ``recovery`` when it is damaged."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is damaged ({error}); {recovery}") from None
