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

Nothing is lost: positions are counted where the parser counts lines (a form feed or U+2028 is no
line break), line endings, a byte-order mark and a notebook's indentation are kept, each file is
replaced whole through a temporary file and a rename, and a file that cannot be migrated (not
UTF-8, not a notebook, read-only, a link out of the folder given) is listed while the others go on.
"""

from __future__ import annotations

import ast
import difflib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.atomic_files import write_atomically
from .dropin import REFERENCE_MODULES

__all__ = ["Migration", "migrate_source", "migrate_notebook", "migrate_path", "REFERENCE_PACKAGE"]

REFERENCE_PACKAGE = "pytorch_grad_cam"
PACKAGE = "camwidgets"
_IPYTHON_LINE = re.compile(r"^[ \t\f]*[%!]")
BOM = "\ufeff"


@dataclass
class Migration:
    """The rewritten text, what changed (one line each) and what could not be mapped (with line numbers)."""

    text: str
    changes: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)


def _public_names() -> set[str]:
    return {name for names in REFERENCE_MODULES.values() for name in names}


#: Line breaks as Python's tokenizer (and so ``ast``) counts them; ``str.splitlines`` also breaks at
#: form feeds, U+2028, U+0085, ``\x1c`` and others, which would shift every position after them.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def source_lines(source: str) -> list[str]:
    """``source`` cut into lines (each with its line break) where the parser cuts it."""
    starts = [0] + [match.end() for match in _LINE_BREAK.finditer(source)]
    lines = [source[a:b] for a, b in zip(starts, starts[1:] + [len(source)])]
    return lines[:-1] if len(lines) > 1 and lines[-1] == "" else lines


class _Spans:
    """Converts ast positions (line, UTF-8 byte column) to character offsets of the source."""

    def __init__(self, source: str) -> None:
        self.lines = source_lines(source) or [""]
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
            return (
                None,
                f"line {node.lineno}: {', '.join(unknown)} from {node.module} is not a public name of pytorch-grad-cam 1.5.7",
            )
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


def _comma_after(source: str, position: int) -> int | None:
    """The offset of the comma that follows ``position`` past whitespace, comments and closing
    parentheses (None: the call's arguments end first)."""
    while position < len(source):
        char = source[position]
        if char == ",":
            return position
        if char == "#":
            line_end = _LINE_BREAK.search(source, position)
            position = line_end.start() if line_end else len(source)
        elif char.isspace() or char == ")" or char == "\\":
            position += 1
        else:
            return None
    return None


def _keyword_edits(call: ast.Call, keyword: ast.keyword, source: str, spans: _Spans) -> list[tuple[int, int, str]]:
    """Edits removing ``keyword=value`` and the comma that joins it to the arguments before it (or,
    when it comes first, after it); comments around it stay."""
    start, end = (
        spans.offset(keyword.lineno, keyword.col_offset),
        spans.offset(keyword.end_lineno, keyword.end_col_offset),
    )  # type: ignore[arg-type]
    earlier = [
        spans.node(node)[1]
        for node in [*call.args, *call.keywords]
        if node is not keyword and spans.node(node)[1] <= start
    ]
    if earlier:
        comma = _comma_after(source, max(earlier))
        if comma is not None:
            if not source[comma + 1 : start].strip(" \t"):
                return [(comma, end, "")]
            return [(comma, comma + 1, ""), (start, end, "")]
    after = re.match(r"[ \t]*,[ \t]*", source[end:])
    return [(start, end + (after.end() if after else 0), "")]


def migrate_source(source: str, where: str = "") -> Migration:
    """Rewrite one Python source text (see the module docstring); a byte-order mark and the line
    endings (LF, CRLF or CR) are kept as they are."""
    if source.startswith(BOM):
        inner = migrate_source(source[len(BOM) :], where)
        inner.text = BOM + inner.text
        return inner
    masked = "".join("#" + line[1:] if _IPYTHON_LINE.match(line) else line for line in source_lines(source))
    try:
        tree = ast.parse(masked)
    except SyntaxError as error:
        return Migration(
            source, unmapped=[f"{where}line {error.lineno}: not valid Python ({error.msg}); left as it is"]
        )
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
                    edits += _keyword_edits(node, keyword, source, spans)
                    migration.changes.append(
                        f"{where}line {keyword.lineno}: use_cuda removed (the maps are computed on the model's device)"
                    )
    text = source
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    migration.text = text
    return migration


class NotMigrated(Exception):
    """A file that cannot be migrated (its reason says why); the command lists it and goes on."""


def _notebook_indent(text: str) -> int | str | None:
    """The indentation of a notebook's JSON, read from its second line (None: all on one line)."""
    lines = text.split("\n", 2)
    if len(lines) < 2:
        return None
    second = lines[1]
    indent = second[: len(second) - len(second.lstrip(" \t"))]
    return indent if "\t" in indent else len(indent)


def migrate_notebook(text: str, where: str = "") -> Migration:
    """Rewrite a notebook's code cells (JSON in, JSON out, everything else and the indentation kept).
    NotMigrated for text that is not a notebook (not JSON, not an object with a list of cells)."""
    try:
        notebook = json.loads(text)
    except ValueError as error:
        raise NotMigrated(f"not a notebook: the JSON does not parse ({error})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells", []), list):
        raise NotMigrated("not a notebook: expected a JSON object with a list of cells")
    migration = Migration(text)
    for number, cell in enumerate(notebook.get("cells", []), 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            joined = "".join(source)
        elif isinstance(source, str):
            joined = source
        else:
            migration.unmapped.append(f"{where}cell {number}: its source is not text; left as it is")
            continue
        result = migrate_source(joined, f"{where}cell {number}, ")
        migration.changes += result.changes
        migration.unmapped += result.unmapped
        if result.text != joined:
            cell["source"] = re.findall(r"[^\n]*\n|[^\n]+$", result.text) if isinstance(source, list) else result.text
    if migration.changes:
        migration.text = json.dumps(notebook, indent=_notebook_indent(text), ensure_ascii=False) + (
            "\n" if text.endswith("\n") else ""
        )
    return migration


def _files(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """The .py and .ipynb files named or found under the folders named, and the links found under a
    folder that lead out of it (never rewritten: one line each saying so)."""
    found, outside = [], []
    for path in paths:
        if path.is_dir():
            root = path.resolve()
            for candidate in sorted(
                p for p in path.rglob("*") if p.suffix in (".py", ".ipynb") and ".ipynb_checkpoints" not in p.parts
            ):
                if not candidate.is_file():
                    continue
                if candidate.is_symlink() and not candidate.resolve().is_relative_to(root):
                    outside.append(f"{candidate}: a link to {candidate.resolve()}, outside {path}; left as it is")
                else:
                    found.append(candidate)
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return found, outside


def migrate_path(path: Path) -> tuple[Migration, str]:
    """One file's migration and its unified diff ('' when nothing changes); NotMigrated when the file
    cannot be read as UTF-8 text or is not a notebook."""
    try:
        original = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotMigrated(f"not UTF-8 text (byte {error.start}); convert it to UTF-8 to migrate it") from None
    except OSError as error:
        raise NotMigrated(f"cannot be read ({error.strerror or error})") from None
    where = f"{path}: "
    migration = migrate_notebook(original, where) if path.suffix == ".ipynb" else migrate_source(original, where)
    diff = "".join(
        difflib.unified_diff(source_lines(original), source_lines(migration.text), f"{path}", f"{path} (camwidgets)")
    )
    return migration, diff


def _write(path: Path, text: str) -> None:
    """Replace the file (the real file, where ``path`` is a link) with ``text``, whole or not at all."""
    real = path.resolve()
    if not os.stat(real).st_mode & 0o222:
        raise NotMigrated("the file is read-only; make it writable (chmod u+w) to migrate it")
    try:
        write_atomically(real, text.encode("utf-8"))
    except OSError as error:
        raise NotMigrated(f"could not be written ({error.strerror or error}); the file is as it was") from None


def run(paths: Iterable[Path], write: bool, out: object) -> int:
    """The ``migrate`` command: print each diff (``write``: apply it), then what could not be mapped
    and the files that could not be migrated; exit status 1 when there are such files, else 0."""
    files, failed = _files(paths)
    unmapped: list[str] = []
    changed = 0
    for path in files:
        try:
            migration, diff = migrate_path(path)
            if diff and write:
                _write(path, migration.text)
        except NotMigrated as reason:
            failed.append(f"{path}: {reason}")
            continue
        unmapped += migration.unmapped
        if diff:
            changed += 1
            print(diff, end="" if diff.endswith("\n") else "\n", file=out)  # type: ignore[arg-type]
    verb = "rewrote" if write else "would rewrite (pass --write to apply)"
    print(f"{verb} {changed} of {len(files)} file(s)", file=out)  # type: ignore[arg-type]
    for title, lines in (
        ("not mapped (left as they are):", unmapped),
        ("could not migrate (left as they are):", failed),
    ):
        if lines:
            print(title, file=out)  # type: ignore[arg-type]
            for line in lines:
                print(f"  {line}", file=out)  # type: ignore[arg-type]
    return 1 if failed else 0
