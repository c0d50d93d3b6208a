"""The tutorials open without warnings: every notebook is valid nbformat 4.5 with an id on every
cell (JupyterLab warns on each open otherwise), and every marimo notebook is a marimo app."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_every_cell_has_an_id_and_the_notebook_is_valid(path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert (raw["nbformat"], raw["nbformat_minor"]) >= (4, 5)
    ids = [cell.get("id") for cell in raw["cells"]]
    assert all(ids) and len(set(ids)) == len(ids), f"{path.name}: cells without an id, or ids repeated"
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))


@pytest.mark.parametrize("path", sorted((NOTEBOOKS / "marimo").glob("*.py")), ids=lambda p: p.name)
def test_every_marimo_notebook_is_an_app_whose_cells_show_a_widget(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert any(
        isinstance(node, ast.Assign) and ast.unparse(node.value) == "marimo.App(width='full')" for node in tree.body
    )
    cells = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert cells and all(any(ast.unparse(d) == "app.cell" for d in cell.decorator_list) for cell in cells)
    assert "mo.ui.anywidget(" in path.read_text(encoding="utf-8")
