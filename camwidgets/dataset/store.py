"""The files of an :func:`~camwidgets.explain_dataset` run, in its ``out`` folder.

* ``config.json``: the run's settings, written first; a resumed run must have the same ones.
* ``chunks/NNNNNN.parquet`` + ``chunks/NNNNNN.done``: the table rows of chunk N (rows
  ``N * chunk_rows`` on), each written to a temporary file and renamed into place, the marker last:
  a chunk counts as finished only when its marker exists, so a crash loses at most the chunk in flight.
* ``maps.zarr``: arrays ``grid`` (rows, h, w) and ``display`` (rows, S, S) of uint8 maps
  (``round(255 * map)``) and ``photos`` (rows, S, S, 3), the images as the model saw them, for
  thumbnails; one zarr chunk per table chunk, so ranks write disjoint chunks.
* ``table.parquet``: every chunk's rows in row order, and ``manifest.json``, written last by rank 0.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..atomic_files import write_atomically

__all__ = ["RunFiles", "write_atomically"]


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
                before = json.loads(self.config.read_text())
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
        group.create_array("display", shape=(rows, display, display), chunks=(chunk_rows, display, display), dtype="uint8", fill_value=0)
        group.create_array("photos", shape=(rows, display, display, 3), chunks=(chunk_rows, display, display, 3), dtype="uint8", fill_value=0)

    def write_chunk(self, index: int, start: int, table: Any, grid: np.ndarray, display: np.ndarray, photos: np.ndarray) -> None:
        """Chunk ``index`` (rows ``start`` on): maps and photos first, then its table rows, then its marker."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        import zarr

        group = zarr.open_group(str(self.maps), mode="r+")
        group["grid"][start : start + len(grid)] = grid
        group["display"][start : start + len(display)] = display
        group["photos"][start : start + len(photos)] = photos
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        write_atomically(self.chunk(index), sink.getvalue().to_pybytes())
        write_atomically(self.marker(index), json.dumps({"rows": len(grid)}).encode())

    def merge(self, chunks: int, manifest: dict[str, Any]) -> None:
        """``table.parquet`` from every chunk in order, then ``manifest.json`` with the count of failed
        rows (rank 0, after all ranks finished)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        missing = [index for index in range(chunks) if not self.finished(index)]
        if missing:
            raise RuntimeError(f"chunks {missing[:5]} of {self.root} are not finished; run again with resume=True to finish them")
        table = pa.concat_tables([pq.read_table(self.chunk(index)) for index in range(chunks)])
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        write_atomically(self.table, sink.getvalue().to_pybytes())
        failed = sum(1 for error in table.column("error").to_pylist() if error)
        write_atomically(self.manifest, json.dumps({**manifest, "failed": failed}, indent=1, sort_keys=True).encode())
