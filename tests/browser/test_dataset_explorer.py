"""DatasetExplorer in real JupyterLab and Chromium: the page of thumbnails, a click that shows the
row large, browser-side colormap, a confusion-matrix cell that filters the gallery."""

from __future__ import annotations

import re

import pytest

from .canvas import assert_drawn, canvas_summary
from .dataset_rows import CANVAS, CELLS, click_a_row

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_dataset_explorer_pages_shows_a_clicked_row_and_filters_by_a_confusion_cell(lab):
    notebook = lab.open("dataset_explorer.ipynb", CELLS)
    try:
        page = notebook.page
        kernel = lab.probe(notebook)
        view = page.locator(".cw-dataset-explorer").first

        def nothing_shown_yet(page) -> None:
            assert view.get_by_text("Click a thumbnail to see its photo and map large.").is_visible()
            assert page.locator(CANVAS).is_hidden(), "an empty picture before any row is chosen"

        key = click_a_row(page, 2, "JupyterLab", before=nothing_shown_yet)
        assert kernel.evaluate("browser.selected_row") == int(key)
        details = view.locator(".cw-html", has_text="confidence: ").first.text_content()
        assert re.search(r"confidence: 0\.\d{1,3}( |$)", details) and "error: ;" not in details, details
        before = canvas_summary(page, CANVAS)
        assert_drawn(before, "the row's overlay")
        drawn = page.locator(CANVAS).evaluate("c => c.toDataURL()")
        page.locator(".cw-dataset-explorer [data-testid=cw-colormap]").select_option("viridis")  # drawn in the browser
        page.wait_for_function(
            "(old) => document.querySelector('.cw-dataset-explorer [data-testid=cw-overlay-canvas]').toDataURL() !== old",
            arg=drawn,
            timeout=10_000,
        )
        assert kernel.wait_for("browser.overlay.colormap", "viridis") == "viridis"
        count = kernel.evaluate("int(browser.confusion_buttons[(0, 0)].description)")
        page.locator(".cw-dataset-explorer .cw-confusion .cw-grid button").nth(
            0
        ).click()  # true circle, predicted circle
        kernel.wait_for("(browser.label.value, browser.predicted.value)", (0, 0))
        page.wait_for_function(
            "(n) => document.querySelectorAll('[data-testid=cw-dataset-item]').length === n",
            arg=min(count, 8),
            timeout=30_000,
        )
        # a bar of the histogram filters the range to itself
        before_range = kernel.evaluate("list(browser.range.value)")
        axes = kernel.evaluate("[float(v) for v in browser._histogram_axes[0]]")
        histogram = view.locator("img.cw-image.cw-clickable").first
        box = histogram.bounding_box()
        histogram.click(position={"x": box["width"] * (axes[0] + 0.98 * (axes[1] - axes[0])), "y": box["height"] / 2})
        after_range = kernel.wait_for("list(browser.range.value) != " + repr(before_range), True)
        assert after_range and kernel.evaluate("browser.range.value[1] - browser.range.value[0]") < (
            before_range[1] - before_range[0]
        )
        # at 900 px nothing is cut off and no chart is squeezed to nothing
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        page.set_viewport_size({"width": 900, "height": 900})
        page.wait_for_timeout(800)
        for selector in ("img.cw-image", ".cw-confusion"):
            assert view.locator(selector).first.bounding_box()["width"] > 150, selector
        clipped = view.evaluate(
            "(root) => [...root.querySelectorAll('[data-testid=cw-dataset-item], .cw-range-readout, .cw-button')]"
            ".filter((n) => n.offsetParent !== null && n.getBoundingClientRect().right > window.innerWidth + 1)"
            ".map((n) => n.textContent)"
        )
        assert clipped == [], clipped
        page.set_viewport_size({"width": 1280, "height": 1400})
        assert not [e for e in page.console_errors if "cw-" in e or "anywidget" in e]
    finally:
        lab.close(notebook)


def test_notebook_7_shows_the_dataset_explorer_and_a_clicked_row(lab):
    notebook = lab.open("dataset_explorer_notebook7.ipynb", CELLS, ui="notebook")
    try:
        page = notebook.page
        assert page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"
        click_a_row(page, 1, "Notebook 7")
        assert not [e for e in page.console_errors if "cw-" in e or "anywidget" in e]
    finally:
        lab.close(notebook)
