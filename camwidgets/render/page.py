"""One self-contained HTML file that shows maps the way the explorer does, with no kernel and no
network: the overlay's and the gallery's own ES modules (``js/overlay.js``, ``js/thumbnails.js``)
run in the page on in-page models (``js/standalone.js``), so colormap, opacity and mode switch in
the page exactly as in the notebook (the same ``composeView``).

The page carries every picture as bytes: for each view its photo (H, W, 3) and 8-bit map (H, W),
and a square thumbnail of both for the gallery, packed into one zlib-compressed buffer (base64);
what the bytes are, and the captions, travel as JSON in a ``<script type="application/json">``
whose ``<``, ``>`` and ``&`` are escaped, so no text of a view can close the script or add markup.
The callers' HTML ``sections`` must be escaped by them (:func:`html.escape`).
"""

from __future__ import annotations

import base64
import html
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.assets import app_module, asset_path
from ..core.atomic_files import write_atomically
from ..core.colormaps import COLORMAPS, MODES, colormap_tables
from ..core.pictures import square

__all__ = ["PageView", "standalone_page", "app_page", "write_page", "NO_KERNEL"]

PAGE_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
.bad { background: #fde2e1; }
.cw-page-viewer { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
#cw-page-overlay { flex: 0 1 448px; min-width: 280px; }
#cw-page-thumbnails { flex: 1 1 360px; min-width: 280px; }
#cw-page-thumbnails .cw-thumbs-wrap { max-height: 70vh; }
#cw-page-thumbnails .cw-thumb canvas { width: var(--cw-thumb-side); height: var(--cw-thumb-side); image-rendering: pixelated; }
#cw-page-thumbnails .cw-thumb-caption { max-width: none; white-space: normal; width: var(--cw-thumb-side); }
.cw-page-error { color: #b00020; }
"""


@dataclass(frozen=True)
class PageView:
    """One picture of the page: ``photo`` (H, W, 3) uint8 as the model saw it, ``levels`` (H, W)
    uint8 (the map's grey levels), ``value_range`` (map values at levels 0 and 255), ``caption``
    (under its thumbnail), ``status`` (above the overlay when it is shown) and ``marks``: what the
    overlay draws over it (``OverlayView.annotations``: boxes, outlines, a rectangle; a page takes no
    drag, so its ``draw`` is dropped)."""

    key: str
    photo: np.ndarray
    levels: np.ndarray
    caption: str = ""
    status: str = ""
    value_range: tuple[float, float] = (0.0, 1.0)
    marks: dict | None = None


def _script_json(value: object) -> str:
    """JSON that is safe inside ``<script>``: no ``<``, ``>`` or ``&`` left to end it or open a tag."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


class _Buffer:
    """Byte arrays appended one after another; ``add`` returns each one's [offset, length]."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, array: np.ndarray | bytes) -> list[int]:
        data = array if isinstance(array, bytes) else np.ascontiguousarray(array, dtype=np.uint8).tobytes()
        self.parts.append(data)
        self.size += len(data)
        return [self.size - len(data), len(data)]

    def base64(self) -> str:
        return base64.b64encode(zlib.compress(b"".join(self.parts), 6)).decode("ascii")


def _check(view: PageView) -> None:
    photo, levels = np.asarray(view.photo), np.asarray(view.levels)
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"view {view.key!r}: photo must be (H, W, 3) uint8; got {photo.shape} {photo.dtype}")
    if levels.dtype != np.uint8 or levels.shape != photo.shape[:2]:
        raise ValueError(
            f"view {view.key!r}: levels must be uint8 of the photo's size {photo.shape[:2]}; got {levels.shape} {levels.dtype}"
        )


def _page_top(title: str, intro: str, style: str = "") -> str:
    """The page's head (the widgets' style sheet, ``style`` after it) and its heading: ``title``
    escaped here, ``intro`` already escaped."""
    css = asset_path("widgets.css").read_text(encoding="utf-8")
    heading = html.escape(title)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        f"<meta name='generator' content='camwidgets'><title>{heading}</title><style>{css}{PAGE_STYLE}{style}</style></head>"
        f"<body><h1>{heading}</h1>{intro}"
    )


def _encoded_app() -> str:
    return base64.b64encode(app_module().encode("utf-8")).decode("ascii")


def standalone_page(title: str, views: Sequence[PageView], *, intro: str = "", sections: str = "", gallery_title: str = "",
                    selected: str | None = None, colormap: str = "jet", opacity: float = 0.5, mode: str = "overlay",
                    thumb_size: int = 96) -> str:  # fmt: skip
    """The HTML text of the page: ``title`` (escaped here), the ``intro`` and ``sections`` HTML
    (escaped by the caller) before and after the viewer, and the viewer: the overlay showing
    ``selected`` (default the first view) and a gallery of every view, its thumbnails
    ``thumb_size`` pixels square (drawn at least 96 px wide)."""
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap {colormap!r}; choose from {', '.join(COLORMAPS)}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    if not 0.0 <= float(opacity) <= 1.0:
        raise ValueError(f"opacity must be from 0 to 1; got {opacity!r}")
    keys = [str(view.key) for view in views]
    if len(set(keys)) != len(keys):
        raise ValueError("every view needs its own key")
    buffer = _Buffer()
    tables = buffer.add(colormap_tables())
    items = []
    for view in views:
        _check(view)
        photo, levels = np.asarray(view.photo), np.asarray(view.levels)
        spans = {"photo": buffer.add(photo), "levels": buffer.add(levels)}
        if photo.shape[:2] == (thumb_size, thumb_size):  # already a thumbnail: the same bytes serve both
            spans.update(thumb_photo=spans["photo"], thumb_levels=spans["levels"])
        else:
            spans.update(
                thumb_photo=buffer.add(square(photo[None], thumb_size)[0]),
                thumb_levels=buffer.add(square(levels[None], thumb_size)[0]),
            )
        items.append({
            "key": str(view.key), "caption": str(view.caption), "status": str(view.status), "marks": {**(view.marks or {}), "draw": ""},
            "width": int(photo.shape[1]), "height": int(photo.shape[0]), "value_range": [float(v) for v in view.value_range], **spans,
        })  # fmt: skip
    data = {
        "items": items, "tables": tables, "colormap_names": list(COLORMAPS), "colormap": colormap, "opacity": float(opacity),
        "mode": mode, "thumb_size": int(thumb_size), "gallery_title": str(gallery_title), "selected": selected if selected in keys else (keys[0] if keys else ""),
    }  # fmt: skip
    return (
        _page_top(title, intro, f"body {{ --cw-thumb-side: {max(96, int(thumb_size))}px; }}")
        + "<p class='cw-page-error' id='cw-page-error' role='alert' hidden></p>"
        f"<noscript><p class='cw-page-error'>The pictures need JavaScript.</p></noscript>"
        f"<div class='cw-page-viewer'><div id='cw-page-overlay'></div><div id='cw-page-thumbnails'></div></div>{sections}"
        f"<script type='application/json' id='cw-page-data'>{_script_json(data)}</script>"
        f"<script type='text/plain' id='cw-page-bytes'>{buffer.base64()}</script>"
        f"<script type='text/plain' id='cw-module-app'>{_encoded_app()}</script>"
        f"<script type='module'>{asset_path('standalone.js').read_text(encoding='utf-8')}</script>"
        "</body></html>"
    )


def write_page(path: str | Path, document: str) -> Path:
    """Write ``document`` to ``path`` atomically (a half-written page is never left behind)."""

    target = Path(path)
    if target.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"{str(path)!r}: give the page a name ending in .html")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, document.encode("utf-8"))
    return target


#: What a saved app page says about the controls that need the kernel (they are shown disabled).
NO_KERNEL = (
    "A saved page: no kernel runs here. The images, colormap, opacity, mode and zoom work; "
    "the other controls need the notebook."
)


def app_page(title: str, state: dict, buffers: Sequence[bytes], *, answers: dict | None = None, intro: str = "",
             sections: str = "") -> str:  # fmt: skip
    """The HTML text of a composed widget saved as a page that runs the notebook's own ES module
    (``app_module``) on an in-page model of ``state`` (the widget's JSON state, its binary buffers
    given apart as ``buffers`` at ``state["buffer_paths"]``). ``answers``: what the page does for a
    message the kernel would have answered, ``{part: {type: {key: {trait: value}}}}`` (a value
    ``{"buffer": i}`` is ``buffers[i]``); every other request is answered with :data:`NO_KERNEL`.
    ``title`` is escaped here; ``intro`` and ``sections`` must be escaped by the caller."""
    packed = _Buffer()
    spans = [packed.add(bytes(buffer)) for buffer in buffers]
    data = {"state": state, "spans": spans, "answers": answers or {}, "note": NO_KERNEL}
    return (
        _page_top(title, intro) + f"<p class='cw-page-note' role='note'>{html.escape(NO_KERNEL)}</p>"
        f"<p class='cw-page-error' id='cw-page-error' role='alert' hidden></p>"
        f"<noscript><p class='cw-page-error'>The pictures need JavaScript.</p></noscript>"
        f"<div id='cw-page-app'></div>{sections}"
        f"<script type='application/json' id='cw-app-data'>{_script_json(data)}</script>"
        f"<script type='text/plain' id='cw-page-bytes'>{packed.base64()}</script>"
        f"<script type='text/plain' id='cw-module-app'>{_encoded_app()}</script>"
        f"<script type='module'>{asset_path('standalone.js').read_text(encoding='utf-8')}</script>"
        "</body></html>"
    )
