"""Save the current view: a PNG of what is shown, and the state as ``.npz`` plus a JSON manifest.

Each file is written to a temporary file in the same folder and renamed over the target, so a
reader never sees a half-written file and a failed export leaves any previous file intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["atomic_write", "export_view"]


def atomic_write(path: Path, write: Callable[[Any], None]) -> Path:
    """``write(file object)`` into a temporary file next to ``path``, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False)
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path


def export_view(stem: str | os.PathLike, view: np.ndarray, arrays: dict[str, np.ndarray], manifest: dict[str, Any]) -> dict[str, Path]:
    """Write ``<stem>.png`` (``view``, RGB uint8), ``<stem>.npz`` (``arrays``) and ``<stem>.json``
    (``manifest`` plus the other two file names); return the three paths."""
    from .pictures import to_png

    base = Path(stem)
    if base.suffix in (".png", ".npz", ".json"):
        base = base.with_suffix("")
    paths = {kind: base.with_name(f"{base.name}.{kind}") for kind in ("png", "npz", "json")}
    encoded = to_png(view)
    atomic_write(paths["png"], lambda f: f.write(encoded))
    atomic_write(paths["npz"], lambda f: np.savez_compressed(f, **arrays))
    document = {**manifest, "files": {kind: path.name for kind, path in paths.items() if kind != "json"}}
    atomic_write(paths["json"], lambda f: f.write(json.dumps(document, indent=2).encode()))
    return paths
