"""The explorers outside JupyterLab, in Chromium: marimo (``mo.ui.anywidget``) and Voila. The same
clicks as in JupyterLab give the same results: a layer clicked in the tree and a method chosen in
the menu draw new pixels, and the DatasetExplorer shows a clicked row and opens it in a CAMExplorer
inside the same widget."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .canvas import assert_drawn, canvas_summary
from .hosts import marimo, voila

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CANVAS = "[data-testid=cw-overlay-canvas]"


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def status(page, scope: str = "") -> str:
    return page.locator(f"{scope} [data-testid=cw-status]".strip()).first.text_content()


def wait_for_status(page, text: str, scope: str = "", timeout: int = 60_000) -> None:
    """Locators, not document.querySelector: marimo draws each widget in a shadow root."""
    expect(page.locator(f"{scope} [data-testid=cw-status]".strip()).first).to_contain_text(text, timeout=timeout)


def method_menu(page):
    label = page.locator(".cw-field-label", has_text=re.compile("^Method$"))
    return page.locator("label.cw-dropdown", has=label).locator("select")


def click_a_layer_and_a_method(page) -> None:
    """The walk every host must pass: the suggested view drawn, then a layer and a method changed by clicks."""
    page.locator(CANVAS).first.wait_for(state="visible", timeout=120_000)
    wait_for_status(page, "GradCAM · features.18")
    before = canvas_summary(page, CANVAS)
    assert_drawn(before, "the first map")
    page.locator("[data-testid=cw-layer-node][data-path='features.17']").click()
    wait_for_status(page, "GradCAM · features.17")
    after_layer = canvas_summary(page, CANVAS)
    assert after_layer["digest"] != before["digest"], "a new layer drew the same pixels"
    menu = method_menu(page)
    label = next(text for text in menu.locator("option").all_text_contents() if text.startswith("LayerCAM — "))
    menu.select_option(label=label)
    wait_for_status(page, "LayerCAM · features.17")
    assert canvas_summary(page, CANVAS)["digest"] != after_layer["digest"], "a new method drew the same pixels"


def test_marimo_runs_the_explorer(page, tmp_path):
    with marimo(NOTEBOOKS / "marimo" / "explorer.py", tmp_path) as server:
        page.goto(server.url)
        click_a_layer_and_a_method(page)
        page.locator("[data-testid=cw-gallery-item]").nth(1).click()
        wait_for_status(page, "espresso")
        cancel_after_the_first_map(page)
        assert page.errors == [], page.errors


def cancel_after_the_first_map(page) -> None:
    """ScoreCAM at a 64-channel layer (a few seconds an image): Cancel once the shown image's map
    arrived keeps that map and says so; the map shown is ScoreCAM's, not the previous method's."""
    page.locator("[data-testid=cw-layer-node][data-path='features.7']").click()
    wait_for_status(page, "features.7")
    before = canvas_summary(page, CANVAS)["digest"]
    menu = method_menu(page)
    menu.select_option(label=next(t for t in menu.locator("option").all_text_contents() if t.startswith("ScoreCAM — ")))
    progress = page.locator(".cw-progress-label").first
    expect(progress).to_contain_text("for the other", timeout=120_000)  # the shown image's map is done
    page.get_by_test_id("cw-cancel").first.click()
    expect(progress).to_contain_text("are kept", timeout=60_000)
    wait_for_status(page, "ScoreCAM · features.7")
    assert canvas_summary(page, CANVAS)["digest"] != before, "the kept ScoreCAM map is not shown"
    assert page.locator(".cw-canvas.cw-stale").count() == 0


def test_marimo_runs_the_dataset_explorer_and_opens_a_row_in_a_cam_explorer(page, tmp_path):
    with marimo(NOTEBOOKS / "marimo" / "dataset_explorer.py", tmp_path) as server:
        page.goto(server.url)
        items = page.get_by_test_id("cw-dataset-item")
        items.first.wait_for(state="visible", timeout=120_000)
        assert items.count() == 8
        key = items.nth(2).get_attribute("data-key")
        items.nth(2).click()
        wait_for_status(page, f"#{key} ", scope=".cw-dataset-explorer")
        assert_drawn(canvas_summary(page, f".cw-dataset-explorer {CANVAS}"), "the clicked row")
        page.get_by_role("button", name="Open in CAMExplorer").click()
        explorer = page.locator(".cw-dataset-explorer .cw-explorer")
        explorer.locator(CANVAS).wait_for(state="visible", timeout=60_000)
        wait_for_status(page, "features.2", scope=".cw-dataset-explorer .cw-explorer")
        assert_drawn(canvas_summary(page, f".cw-dataset-explorer .cw-explorer {CANVAS}"), "the row in the explorer")
        assert page.errors == [], page.errors


def test_voila_serves_the_explorer_tutorial_as_an_app(page, tmp_path):
    with voila(NOTEBOOKS / "02_explorer.ipynb", tmp_path) as server:
        page.goto(server.url, timeout=300_000)
        click_a_layer_and_a_method(page)
        assert "load_model(" not in page.locator("body").inner_text(), "Voila showed the code"
        assert page.errors == [], page.errors
