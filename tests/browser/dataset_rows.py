"""A DatasetExplorer over a small run of the trained shapes classifier (the dataset tests' own),
as notebook cells, and the walk every host makes on it: a page of rows, one clicked and shown large."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from .canvas import assert_drawn, canvas_summary

REPO = Path(__file__).resolve().parents[2]
CELLS = [
    f"import sys, tempfile, pathlib\nsys.path.insert(0, {str(REPO)!r})\n"
    "from tests.dataset.common import SETTINGS, model, write_folder\n"
    "import camwidgets as cw\n"
    "base = pathlib.Path(tempfile.mkdtemp())\n"
    "results = cw.explain_dataset(model(), write_folder(base / 'shapes'), out=base / 'out', **SETTINGS)",
    "browser = cw.DatasetExplorer(results, model(), page_size=8)\nbrowser",
]
CANVAS = ".cw-dataset-explorer [data-testid=cw-overlay-canvas]"


def click_a_row(page, index: int, where: str, before=None) -> str:
    """Wait for the page of 8 rows, run ``before(page)`` if given, click row ``index``; the overlay
    shows it large (the status names it, the canvas is drawn). Locators, not document queries: marimo
    draws widgets in shadow roots. Returns the row's key."""
    items = page.get_by_test_id("cw-dataset-item")
    items.first.wait_for(state="visible", timeout=120_000)
    assert items.count() == 8
    if before is not None:
        before(page)
    key = items.nth(index).get_attribute("data-key")
    items.nth(index).click()
    expect(page.locator(".cw-dataset-explorer [data-testid=cw-status]").first).to_contain_text(
        f"#{key} ", timeout=30_000
    )
    assert_drawn(canvas_summary(page, CANVAS), f"the clicked row in {where}")
    return key
