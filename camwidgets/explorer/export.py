"""Save the current view: a PNG of what is shown, and the state as ``.npz`` plus a JSON manifest.

The three files are one set. All three are first written in full to temporary files in the target
folder; only then are they renamed over the targets, the manifest last, while a lock (per target,
across threads, and ``flock`` on the folder across processes where the OS has it) keeps another
export to the same name out. Every destination is checked before the first rename, and a rename
that fails puts back the files already replaced. A failed write therefore leaves every file of the
previous export as it was and no temporary file behind, and two exports to one name never mix their files; a reader never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..core.atomic_files import check_destination, replace_together, temporary_beside
from ..core.colormaps import compose_view
from ..core.pictures import to_png
from ..engine import get_method
from ..render.page import app_page
from ..render.spacetime import spacetime_picture
from ..widgets.parts import SEPARATOR, saved_state

__all__ = [
    "export_view",
    "export_paths",
    "export_session",
    "view_manifest",
    "shown_picture",
    "explorer_page",
    "pick_answer",
]

KINDS = ("png", "npz", "json")
_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def _exclusive(base: Path) -> Iterator[None]:
    """Hold the lock of export name ``base``: a thread lock, plus ``flock`` on its folder (POSIX)."""
    key = base.absolute()
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        try:
            import fcntl
        except ImportError:  # no flock on this OS: threads of this process are still kept apart
            yield
            return
        folder = os.open(base.parent, os.O_RDONLY)
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            yield
        finally:
            os.close(folder)  # closing releases the flock


def export_paths(stem: str | os.PathLike) -> dict[str, Path]:
    """``{"png", "npz", "json"}`` paths for a stem such as ``out/cat-view`` (a ``.png``/``.npz``/``.json``
    suffix, in any case, is dropped); ValueError for a stem that names no file or names a folder."""
    text = os.fspath(stem)
    base = Path(text)
    if not text.strip() or base.name in ("", ".", ".."):
        raise ValueError(
            f"export needs a file name, such as 'out/cat-view' (it writes .png, .npz and .json); got {text!r}"
        )
    if base.is_dir():
        raise ValueError(f"{text!r} is a folder; pass a file name inside it, such as {str(base / 'view')!r}")
    if base.suffix.lower() in tuple(f".{kind}" for kind in KINDS):
        base = base.with_suffix("")
    return {kind: base.with_name(f"{base.name}.{kind}") for kind in KINDS}


def export_view(
    stem: str | os.PathLike, view: np.ndarray, arrays: dict[str, np.ndarray], manifest: dict[str, Any]
) -> dict[str, Path]:
    """Write ``<stem>.png`` (``view``, RGB uint8), ``<stem>.npz`` (``arrays``) and ``<stem>.json``
    (``manifest`` plus the other two file names) as one set; return the three paths."""

    paths = export_paths(stem)
    document = {**manifest, "files": {kind: path.name for kind, path in paths.items() if kind != "json"}}
    writers: dict[str, Callable[[Any], None]] = {
        "png": lambda f, encoded=to_png(view): f.write(encoded),
        "npz": lambda f: np.savez_compressed(f, **arrays),
        "json": lambda f: f.write(json.dumps(document, indent=2).encode()),
    }
    base = paths["json"].with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    for path in paths.values():
        check_destination(path)
    with _exclusive(base):
        written: dict[str, Path] = {}
        try:
            for kind in KINDS:
                written[kind] = temporary_beside(paths[kind], writers[kind])
        except BaseException:
            for leftover in written.values():
                leftover.unlink(missing_ok=True)
            raise
        replace_together([(written[kind], paths[kind]) for kind in KINDS])  # the manifest last: it names the set
    return paths


def view_manifest(session: Any, view: dict[str, Any]) -> dict[str, Any]:
    """What the JSON file says of the session's current result: method, layers, task and target
    (class, box, region, concept), image,
    smoothing, normalisation, the overlay's ``view`` settings, value range and map shape."""

    result = session.result
    state, image = result.state, result.state.image
    return {
        "method": get_method(state.method).class_name,
        "layers": list(state.layers),
        "task": session.task.name,
        "target": state.target,
        "box": state.box,
        "region": list(state.region) if state.region is not None else None,
        "concept": state.concept,
        "target_label": session.target_label(state),
        "image_index": image,
        "image_name": session.images.names[image],
        "aug_smooth": state.aug_smooth,
        "eigen_smooth": state.eigen_smooth,
        "normalise": state.normalise,
        "view": dict(view),
        "value_range": list(result.value_range),
        "map_shape": list(result.levels[image].shape),
    }


def shown_picture(session: Any, view: dict[str, Any]) -> np.ndarray:
    """The session's current image and map as the browser draws them with ``view`` (mode, colormap,
    opacity): (H, W, 3) uint8."""

    result = session.result
    if result is None:
        raise ValueError("nothing is shown yet: no map has been computed")
    image = result.state.image
    if session.kind != "image":
        return spacetime_picture(
            session.kind, session.shown_input(image), result.levels[image], view["colormap"], view["opacity"],
            view["mode"], view.get("position"), view.get("window"),
        )  # fmt: skip
    return compose_view(
        session.images.photos[image], result.levels[image], view["colormap"], view["opacity"], view["mode"]
    )


def export_session(stem: str | os.PathLike, session: Any, view: dict[str, Any]) -> dict[str, Path]:
    """Export the session's current result as shown with ``view`` (mode, colormap, opacity)."""
    if session.result is None:
        raise ValueError("nothing to export yet: no map has been computed")
    result, image = session.result, session.result.state.image
    arrays = {"image": session.shown_input(image), "map": result.maps[image], "levels": result.levels[image]}
    return export_view(stem, shown_picture(session, view), arrays, view_manifest(session, view))


def pick_answer(buffers: list[bytes], overlay: Any, gallery: Any, key: str, photo: np.ndarray, levels: np.ndarray,
                value_range: Any, status: str, annotations: dict | None = None) -> dict[str, Any]:  # fmt: skip
    """What a saved page does for a click on ``gallery``'s picture ``key``: the overlay (or a volume's,
    clip's or signal's view) shows ``photo`` (the item) and ``levels`` (appended to ``buffers``) with
    ``status``, as the kernel would."""
    at = overlay.part_id + SEPARATOR
    answer = {
        gallery.part_id + SEPARATOR + "selected": key,
        at + "value_range": [float(v) for v in value_range],
        at + "status": status,
        at + "annotations": {"boxes": [], "outlines": [], "region": None, **(annotations or {}), "draw": ""},
        at + "stale": False,
        at + "error": "",
    }
    answer.update({at + name: value for name, value in overlay.saved_item(buffers, photo, levels).items()})
    return answer


def explorer_page(view: Any) -> str:
    """The explorer (a :class:`~camwidgets.explorer.view.ExplorerView`) saved as a page that runs the
    notebook's own front end: the same layout, tree, controls and tabs as shown now, with the
    overlay's colormap, opacity, mode and zoom working, the gallery switching among every image's
    current map, and the controls that need the kernel disabled (a note says so)."""
    import html

    session, overlay, gallery = view.session, view.overlay, view.gallery
    result = session.result
    if result is None:
        raise ValueError("nothing to save yet: no map has been computed")
    saved, buffers = saved_state(view.root, "cw-explorer", working=[overlay, gallery])
    state = saved["state"]
    for strip in (view.sweep, view.label_maps):  # they show the image of the moment: not the others'
        state[strip.part_id + SEPARATOR + "visible"] = False
    picks = {}
    for index in range(len(session.images)):
        if index in result.missing:
            continue
        shown = session.at_image(result.state, index)
        picks[str(index)] = pick_answer(
            buffers, overlay, gallery, str(index), session.shown_input(index), result.levels[index],
            result.value_range, session.status_text(shown), session.task.annotations(shown),
        )  # fmt: skip
    names = session.images.names
    title = f"{get_method(result.state.method).class_name} of {type(session.model).__name__} on {len(names)} image{'s' if len(names) != 1 else ''}"
    intro = f"<p>{html.escape(type(session.model).__name__)} · {html.escape(session.status_text(result.state))}</p>"
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
        + "".join(
            f"<td style='text-align:left'>{html.escape(label)} {p:.3f}</td>"
            for _, label, p in session.top_classes(i, 5)
        )
        + "</tr>"
        for i, name in enumerate(names)
    )
    sections = (
        f"<h2>Top classes</h2><table><tr><th>image</th><th colspan='5'>most probable first</th></tr>{rows}</table>"
    )
    return app_page(title, saved, buffers, answers={gallery.part_id: {"pick": picks}}, intro=intro, sections=sections)
