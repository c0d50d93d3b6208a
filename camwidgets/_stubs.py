"""Type stubs for what is made at run time, so that type checkers and IDEs see it: the CAM classes
the method registry makes (``cams/__init__.pyi``) and the package root's lazy exports
(``__init__.pyi``). ``python -m camwidgets._stubs`` writes them; ``tests/test_stubs.py`` fails when
they no longer match the registry and the exports."""

from __future__ import annotations

import inspect
from pathlib import Path

from . import _EXPORTS, cams
from .cams import CLASSES
from .cams import __all__ as CAMS_ALL
from .cams.base import ForwardCalledCAM

PACKAGE = Path(__file__).resolve().parent
HEADER = "# Written by `python -m camwidgets._stubs` from the method registry and the exports; do not edit.\n"


def _parameter(parameter: inspect.Parameter) -> str:
    text = f"{parameter.name}: Any"
    if parameter.kind is parameter.VAR_KEYWORD:
        return f"**{text}"
    return text if parameter.default is parameter.empty else f"{text} = ..."


def cams_stub() -> str:
    """``cams/__init__.pyi``: one class per registered method, with its constructor's parameters."""
    lines = [HEADER, "from typing import Any", "", "from ..engine import AblationLayer as AblationLayer"]
    lines += [
        "from ..engine import AblationLayerFasterRCNN as AblationLayerFasterRCNN",
        "from ..engine import AblationLayerVit as AblationLayerVit",
    ]
    lines += ["from .base import BaseCAM as BaseCAM", "from .base import ForwardCalledCAM as ForwardCalledCAM"]
    lines += ["from .base import compute_cams as compute_cams", "from .base import method_class as method_class"]
    lines += [
        f"from .factorization import {name} as {name}"
        for name in CAMS_ALL
        if name not in CLASSES and name[0].isalpha() and _from_factorization(name)
    ]
    lines += ["", "CLASSES: dict[str, type[BaseCAM]]", ""]
    for name, cls in CLASSES.items():
        base = "ForwardCalledCAM" if issubclass(cls, ForwardCalledCAM) else "BaseCAM"
        parameters = list(inspect.signature(cls).parameters.values())
        rendered, star = ["self"], False
        for parameter in parameters:
            if parameter.kind is parameter.KEYWORD_ONLY and not star:
                rendered.append("*")
                star = True
            rendered.append(_parameter(parameter))
        lines += ["", f"class {name}({base}):", f"    def __init__({', '.join(rendered)}) -> None: ..."]
    return "\n".join(lines) + "\n"


def _from_factorization(name: str) -> bool:
    return getattr(getattr(cams, name, None), "__module__", "") == "camwidgets.cams.factorization"


def root_stub() -> str:
    """``__init__.pyi``: the package root's lazy exports, each from its module."""
    lines = [HEADER, "from .compat import dropin as dropin", "from .core import __version__ as __version__", ""]
    ordered = sorted(_EXPORTS.items(), key=lambda item: (item[1], item[0]))
    lines += [f"from {module.removeprefix('camwidgets')} import {name} as {name}" for name, module in ordered]
    return "\n".join(lines) + "\n"


STUBS = {PACKAGE / "cams" / "__init__.pyi": cams_stub, PACKAGE / "__init__.pyi": root_stub}


def write_stubs() -> list[Path]:
    for path, make in STUBS.items():
        path.write_text(make())
    return list(STUBS)


if __name__ == "__main__":
    for written in write_stubs():
        print(f"wrote {written}")
