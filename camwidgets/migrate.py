"""Rewrite Python files and notebooks written for pytorch-grad-cam to use camwidgets.

The rewrite works on the syntax tree (``ast``), never on text patterns: it finds the import
statements and the names that refer to the reference's package, and replaces exactly those source
spans, so comments, strings and formatting stay as they were.

* ``from pytorch_grad_cam.utils.image import show_cam_on_image as show`` becomes
  ``from camwidgets import show_cam_on_image as show`` when every name is one of the reference's
  public names (all of which camwidgets exports at the top); an import of a submodule
  (``from pytorch_grad_cam.utils import model_targets``) keeps its path under ``camwidgets``.
* ``import pytorch_grad_cam[.path] [as name]`` becomes ``import camwidgets[.path] [as name]``, and
  the uses ``pytorch_grad_cam.X`` become ``camwidgets.X`` (the alias modules of
  :mod:`camwidgets.dropin` hold the same names).
* ``use_cuda=...`` keyword arguments are removed (pytorch-grad-cam removed the argument too; the
  maps are computed on the model's device).
* Anything else that names the package (an unknown module or name) is left as it is and listed.

Notebooks are rewritten cell by cell; IPython lines (``%magic``, ``!shell``) are kept as they are.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .dropin import REFERENCE_MODULES

__all__ = ["Migration", "migrate_source", "migrate_notebook", "migrate_path", "REFERENCE_PACKAGE"]

REFERENCE_PACKAGE = "pytorch_grad_cam"
PACKAGE = "camwidgets"
_IPYTHON_LINE = re.compile(r"^\s*[%!]")


@dataclass
class Migration:
    """The rewritten text, what changed (one line each) and what could not be mapped (with line numbers)."""

    text: str
    changes: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)


def _public_names() -> set[str]:
    return {name for names in REFERENCE_MODULES.values() for name in names}


class _Spans:
    """Converts ast positions (line, UTF-8 byte column) to character offsets of the source."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines(keepends=True) or [""]
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, line: int, column: int) -> int:
        text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
        return self.starts[line - 1] + len(text.encode("utf-8")[:column].decode("utf-8", errors="ignore"))

    def node(self, node: ast.AST) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined,arg-type]


def _module_path(module: str) -> str | None:
    """``pytorch_grad_cam.utils.image`` -> ``utils.image`` ('' for the package), None for another package."""
    if module == REFERENCE_PACKAGE:
        return ""
    if module.startswith(REFERENCE_PACKAGE + "."):
        return module[len(REFERENCE_PACKAGE) + 1 :]
    return None


def _from_import(node: ast.ImportFrom, source: str, spans: _Spans, public: set[str]) -> tuple[str | None, str | None]:
    """The rewritten ``from ... import ...`` statement (None: unchanged) and a note of what was not mapped."""
    path = _module_path(node.module or "") if node.level == 0 else None
    if path is None:
        return None, None
    if path and path not in REFERENCE_MODULES:
        return None, f"line {node.lineno}: module {node.module} is not part of pytorch-grad-cam 1.5.7"
    names = [alias.name for alias in node.names]
    submodules = [name for name in names if (f"{path}.{name}" if path else name) in REFERENCE_MODULES]
    if names == ["*"] or submodules:
        target = f"{PACKAGE}.{path}" if path else PACKAGE
    else:
        unknown = [name for name in names if name not in public]
        if unknown:
            return None, f"line {node.lineno}: {', '.join(unknown)} from {node.module} is not a public name of pytorch-grad-cam 1.5.7"
        target = PACKAGE
    start, end = spans.node(node)
    statement = source[start:end]
    module = re.match(r"(from\s+)([\w.]+)", statement)
    assert module is not None
    return module.group(1) + target + statement[module.end() :], None


def _plain_import(node: ast.Import, source: str, spans: _Spans) -> tuple[str | None, set[str]]:
    """``import pytorch_grad_cam[.x] [as y]`` rewritten, and the local names bound to the package."""
    if not any(_module_path(alias.name) is not None for alias in node.names):
        return None, set()
    parts, bound = [], set()
    for alias in node.names:
        path = _module_path(alias.name)
        name = alias.name if path is None else (f"{PACKAGE}.{path}" if path else PACKAGE)
        if path is not None and alias.asname is None:
            bound.add(REFERENCE_PACKAGE)  # `import pytorch_grad_cam.x` binds the package's name
        parts.append(f"{name} as {alias.asname}" if alias.asname else name)
    return "import " + ", ".join(parts), bound


def _keyword_span(keyword: ast.keyword, source: str, spans: _Spans) -> tuple[int, int]:
    """The span of ``keyword=value`` with the comma that joins it to the arguments around it."""
    start, end = spans.offset(keyword.lineno, keyword.col_offset), spans.offset(keyword.end_lineno, keyword.end_col_offset)  # type: ignore[arg-type]
    before = source[:start].rstrip()
    if before.endswith(","):
        return len(before) - 1, end
    after = re.match(r"\s*,\s*", source[end:])
    return start, end + (after.end() if after else 0)


def migrate_source(source: str, where: str = "") -> Migration:
    """Rewrite one Python source text (see the module docstring)."""
    masked = "\n".join("#" + line[1:] if _IPYTHON_LINE.match(line) else line for line in source.split("\n"))
    try:
        tree = ast.parse(masked)
    except SyntaxError as error:
        return Migration(source, unmapped=[f"{where}line {error.lineno}: not valid Python ({error.msg}); left as it is"])
    spans = _Spans(source)
    public = _public_names()
    edits: list[tuple[int, int, str]] = []
    migration = Migration(source)
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            text, note = _from_import(node, source, spans, public)
            if text is not None:
                edits.append((*spans.node(node), text))
                migration.changes.append(f"{where}line {node.lineno}: {' '.join(text.split())}")
            if note:
                migration.unmapped.append(where + note)
        elif isinstance(node, ast.Import):
            text, names = _plain_import(node, source, spans)
            bound |= names
            if text is not None:
                edits.append((*spans.node(node), text))
                migration.changes.append(f"{where}line {node.lineno}: {' '.join(text.split())}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == REFERENCE_PACKAGE and node.id in bound:
            edits.append((*spans.node(node), PACKAGE))
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "use_cuda":
                    edits.append((*_keyword_span(keyword, source, spans), ""))
                    migration.changes.append(f"{where}line {keyword.lineno}: use_cuda removed (the maps are computed on the model's device)")
    text = source
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    migration.text = text
    return migration


def migrate_notebook(text: str, where: str = "") -> Migration:
    """Rewrite a notebook's code cells (JSON in, JSON out, everything else kept)."""
    notebook = json.loads(text)
    migration = Migration(text)
    for number, cell in enumerate(notebook.get("cells", []), 1):
        if cell.get("cell_type") != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        result = migrate_source(source, f"{where}cell {number}, ")
        migration.changes += result.changes
        migration.unmapped += result.unmapped
        if result.text != source:
            cell["source"] = result.text.splitlines(keepends=True) if isinstance(cell["source"], list) else result.text
    if migration.changes:
        indent = 1 if text.startswith("{\n ") and not text.startswith("{\n  ") else 2
        migration.text = json.dumps(notebook, indent=indent, ensure_ascii=False) + ("\n" if text.endswith("\n") else "")
    return migration


def _files(paths: Iterable[Path]) -> list[Path]:
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in (".py", ".ipynb") and ".ipynb_checkpoints" not in p.parts)
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return found


def migrate_path(path: Path) -> tuple[Migration, str]:
    """One file's migration and its unified diff ('' when nothing changes)."""
    original = path.read_text(encoding="utf-8")
    where = f"{path}: "
    migration = migrate_notebook(original, where) if path.suffix == ".ipynb" else migrate_source(original, where)
    diff = "".join(
        difflib.unified_diff(original.splitlines(keepends=True), migration.text.splitlines(keepends=True), f"{path}", f"{path} (camwidgets)")
    )
    return migration, diff


def run(paths: Iterable[Path], write: bool, out: "object") -> int:
    """The ``migrate`` command: print each diff (``write``: apply it), then what could not be mapped."""
    files = _files(paths)
    unmapped: list[str] = []
    changed = 0
    for path in files:
        migration, diff = migrate_path(path)
        unmapped += migration.unmapped
        if diff:
            changed += 1
            print(diff, end="" if diff.endswith("\n") else "\n", file=out)  # type: ignore[arg-type]
            if write:
                path.write_text(migration.text, encoding="utf-8")
    verb = "rewrote" if write else "would rewrite (pass --write to apply)"
    print(f"{verb} {changed} of {len(files)} file(s)", file=out)  # type: ignore[arg-type]
    if unmapped:
        print("not mapped (left as they are):", file=out)  # type: ignore[arg-type]
        for line in unmapped:
            print(f"  {line}", file=out)  # type: ignore[arg-type]
    return 0
