"""Files written whole or not at all.

Every writer in camwidgets that replaces a file goes through :func:`temporary_beside` and a rename:
the new content is written in full to a hidden temporary file in the target's own folder (so the
rename cannot cross file systems), flushed to disk, given the permissions the target had, and only
then renamed over the target. A write that fails midway (disk full, a file-size limit, a signal)
removes its temporary file and leaves the target exactly as it was.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["temporary_beside", "write_atomically", "check_destination", "replace_together"]


def temporary_beside(path: Path, write: Callable[[Any], None]) -> Path:
    """``write(binary file object)`` into a new temporary file next to ``path``, flushed to disk and
    with ``path``'s permission bits (0o644 for a new file); its path. Removed again on any failure."""
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False)
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = 0o644
        os.chmod(handle.name, mode)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return Path(handle.name)


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data`` through a temporary file in the same folder and a rename."""
    target = Path(path)
    partial = temporary_beside(target, lambda handle: handle.write(data))
    try:
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def check_destination(path: Path) -> None:
    """ValueError unless ``path`` is absent or a plain file (or a link to one) that may be replaced."""
    if path.is_dir():
        raise ValueError(
            f"{str(path)!r} is a folder, so it cannot be written as a file; remove it or choose another name"
        )
    if path.exists() and not path.is_file():
        raise ValueError(f"{str(path)!r} exists and is not a plain file; remove it or choose another name")


def replace_together(renames: list[tuple[Path, Path]]) -> None:
    """Rename each ``(temporary, target)`` in order, as one set: every target is checked first
    (:func:`check_destination`), and when a rename fails the targets already renamed get their
    earlier content back (or are removed, where there was none) and every temporary file is removed."""
    for _, target in renames:
        check_destination(target)
    done: list[tuple[Path, Path | None]] = []  # (target replaced, its earlier content kept under another name)
    kept_files: list[Path] = []
    try:
        for temporary, target in renames:
            kept = None
            if target.exists():
                kept = target.with_name(f".{target.name}.{os.getpid()}.previous")
                _keep_copy(target, kept)
                kept_files.append(kept)
            os.replace(temporary, target)
            done.append((target, kept))
    except BaseException:
        for target, kept in reversed(done):
            try:
                if kept is not None:
                    os.replace(kept, target)
                else:
                    target.unlink(missing_ok=True)
            except OSError:  # keep putting back the others
                pass
        raise
    finally:
        for path in [temporary for temporary, _ in renames] + kept_files:
            path.unlink(missing_ok=True)


def _keep_copy(path: Path, kept: Path) -> None:
    """``kept`` holds ``path``'s content: a hard link, or a copy where links are not possible."""
    kept.unlink(missing_ok=True)
    try:
        os.link(path, kept)
    except OSError:
        import shutil

        shutil.copy2(path, kept)
