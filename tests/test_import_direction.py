"""The package's imports run one way: the engine imports nothing of the rest of camwidgets, the rest
imports the engine through its door (``camwidgets.engine``), and nothing below the explorer imports
the explorer. The imports are read from the source (``ast``), inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import camwidgets

PACKAGE = Path(camwidgets.__file__).parent


def imports() -> list[tuple[str, str, int]]:
    """(importing module, imported camwidgets module, line) for every import in the package."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = parts[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
                if base.startswith("camwidgets"):
                    found.append((module, base, node.lineno))
            elif isinstance(node, ast.Import):
                found += [(module, alias.name, node.lineno) for alias in node.names if alias.name.startswith("camwidgets")]
    return found


def test_the_engine_imports_nothing_of_the_rest_of_the_package():
    back = [(a, b, n) for a, b, n in imports() if a.startswith("camwidgets.engine") and not b.startswith("camwidgets.engine")]
    assert back == []


def test_the_rest_of_the_package_enters_the_engine_through_its_door():
    deep = [(a, b, n) for a, b, n in imports() if not a.startswith("camwidgets.engine") and b.startswith("camwidgets.engine.")]
    assert deep == []


def test_nothing_below_the_explorer_imports_it():
    allowed = ("camwidgets.explorer", "camwidgets")  # itself; the package root's lazy export of CAMExplorer
    up = [(a, b, n) for a, b, n in imports() if b.startswith("camwidgets.explorer") and not a.startswith(allowed[0]) and a != allowed[1]
          and a != "camwidgets.widgets.dataset_explorer"]  # fmt: skip  (a dataset row opens in the explorer: imported when clicked)
    assert up == []
