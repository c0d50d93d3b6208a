"""Where the widgets' ES modules and CSS live: ``camwidgets/js`` in a wheel (hatch force-include),
the repository's ``js/`` folder in an editable install or a source checkout; and the one ES module
the composed widgets ship: the files of :data:`APP_MODULES` joined in order (no build step; each
file's top-level names are distinct, and only ``app.js`` has a default export)."""

from __future__ import annotations

import os
import threading
import time
from functools import cache
from pathlib import Path

__all__ = ["asset_path", "app_module", "widget_module", "APP_MODULES"]

#: The files of the one ES module, in order: shared helpers, the parts' renderers, the composition.
APP_MODULES = (
    "_dom.js",
    "map_chrome.js",
    "overlay.js",
    "spacetime.js",
    "layer_tree.js",
    "thumbnails.js",
    "fields.js",
    "parts.js",
    "app.js",
)

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@cache
def _asset_dir() -> Path:
    for candidate in (_PACKAGE_DIR / "js", _PACKAGE_DIR.parent / "js"):
        if (candidate / "overlay.js").is_file():
            return candidate
    raise FileNotFoundError(
        f"the widgets' JavaScript files were found neither in {_PACKAGE_DIR / 'js'} nor in {_PACKAGE_DIR.parent / 'js'}; "
        "reinstall camwidgets (pip install camwidgets, or pip install -e . from a checkout)"
    )


def asset_path(name: str) -> Path:
    """The path of one front-end file (``"overlay.js"``, ``"widgets.css"``)."""
    path = _asset_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"missing widget asset {name!r} in {_asset_dir()}")
    return path


@cache
def app_module() -> str:
    """The composed widgets' ES module as shipped to the browser: :data:`APP_MODULES` joined."""
    return "\n".join(asset_path(name).read_text(encoding="utf-8") for name in APP_MODULES)


def widget_module() -> str | Path:
    """What a widget's ``_esm`` is: the joined module; in a source checkout with ``ANYWIDGET_HMR=1``
    the path of a file kept joined (``js/.hmr/app.js``), so that anywidget reloads the open widgets
    whenever a file of :data:`APP_MODULES` is saved."""
    folder = _asset_dir()
    if os.environ.get("ANYWIDGET_HMR") != "1" or "site-packages" in folder.parts:
        return app_module()
    target = folder / ".hmr" / "app.js"
    target.parent.mkdir(exist_ok=True)
    _join_into(target)
    threading.Thread(target=_keep_joined, args=(target,), name="camwidgets-hmr", daemon=True).start()
    return target


def _join_into(target: Path) -> None:
    text = "\n".join(asset_path(name).read_text(encoding="utf-8") for name in APP_MODULES)
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


def _keep_joined(target: Path) -> None:
    """Join the modules again after each change to one of them (polled twice a second)."""
    seen = None
    while True:
        stamps = [asset_path(name).stat().st_mtime_ns for name in APP_MODULES]
        if seen is not None and stamps != seen:
            _join_into(target)
        seen = stamps
        time.sleep(0.5)
