"""The package's imports run one way, down its layers, with no circle between its parts:

    widgets, explorer  ->  dataset, explain  ->  metrics, render, cams,
    pretrained, data, compat  ->  engine  ->  core

(a part may import its own layer's parts, without a circle; the command line and the package root
sit on top). The rest of the package enters the engine through its door (``camwidgets.engine``).
Imports are read from the source (``ast``), inside functions too; those under ``TYPE_CHECKING``
are annotations, not imports at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import camwidgets

PACKAGE = Path(camwidgets.__file__).parent

LAYERS = {
    "core": 0,
    "engine": 1,
    **dict.fromkeys(["metrics", "render", "cams", "pretrained", "data", "compat"], 2),
    **dict.fromkeys(["dataset", "explain"], 3),
    **dict.fromkeys(["widgets", "explorer"], 4),
    **dict.fromkeys(["cli", "__main__", "_stubs", ""], 5),
}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            lines |= {
                child.lineno for statement in node.body for child in ast.walk(statement) if hasattr(child, "lineno")
            }
    return lines


def imports() -> list[tuple[str, str, int]]:
    """(importing module, imported camwidgets module, line) for every run-time import in the package."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = parts[:-1]
        tree = ast.parse(path.read_text())
        skipped = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skipped:
                continue
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
                if base.startswith("camwidgets"):
                    found.append((module, base, node.lineno))
            elif isinstance(node, ast.Import):
                found += [
                    (module, alias.name, node.lineno) for alias in node.names if alias.name.startswith("camwidgets")
                ]
    return found


def part(module: str) -> str:
    """The package part a module belongs to: ``camwidgets.explorer.tasks.base`` -> ``explorer``."""
    return (module.split(".") + [""])[1]


def test_every_part_of_the_package_has_a_layer():
    assert {part(a) for a, _, _ in imports()} <= set(LAYERS)


def test_imports_run_down_the_layers():
    up = [(a, b, n) for a, b, n in imports() if LAYERS[part(b)] > LAYERS[part(a)]]
    assert up == []


def test_no_circle_between_parts():
    arrows: dict[str, set[str]] = {}
    for a, b, _ in imports():
        if part(a) != part(b):
            arrows.setdefault(part(a), set()).add(part(b))
    reach = {start: set(ends) for start, ends in arrows.items()}
    for _ in range(len(LAYERS)):  # the closure: every part reached through any chain of imports
        reach = {start: ends | {far for end in ends for far in reach.get(end, ())} for start, ends in reach.items()}
    assert sorted(start for start, ends in reach.items() if start in ends) == []


def test_the_core_and_the_engine_stay_at_the_bottom():
    assert [(a, b) for a, b, _ in imports() if part(a) == "core" and part(b) != "core"] == []
    assert [(a, b) for a, b, _ in imports() if part(a) == "engine" and part(b) != "engine"] == []


def test_the_rest_of_the_package_enters_the_engine_through_its_door():
    deep = [(a, b, n) for a, b, n in imports() if part(a) != "engine" and b.startswith("camwidgets.engine.")]
    assert deep == []
