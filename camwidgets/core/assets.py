"""Where the widgets' ES modules and CSS live: ``camwidgets/js`` in a wheel (hatch force-include),
the repository's ``js/`` folder in an editable install or a source checkout; and each module as
shipped, with the shared helpers of ``js/_dom.js`` in front of it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["asset_path", "module_source"]

#: Shared DOM helpers put in front of every widget module (one ES module per widget, no build step).
SHARED_MODULE = "_dom.js"

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
def module_source(name: str) -> str:
    """A widget's ES module as shipped to the browser: the shared helpers (``_dom.js``) followed by
    the module ``name`` (``"overlay.js"``)."""
    return asset_path(SHARED_MODULE).read_text(encoding="utf-8") + "\n" + asset_path(name).read_text(encoding="utf-8")
