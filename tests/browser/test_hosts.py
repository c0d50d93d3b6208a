"""The explorers outside JupyterLab, in Chromium: marimo (``mo.ui.anywidget``) and Voila. The same
clicks as in JupyterLab give the same results: a layer clicked in the tree and a method chosen in
the menu draw new pixels, and the DatasetExplorer shows a clicked row and opens it in a CAMExplorer
inside the same widget."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .canvas import assert_drawn, canvas_summary
from .dataset_rows import CELLS, click_a_row
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
        assert page.get_by_test_id("cw-no-kernel").count() == 0  # a live kernel: no note, nothing disabled
        page.locator("[data-testid=cw-gallery-item]").nth(1).click()
        wait_for_status(page, "espresso")
        cancel_after_the_first_map(page)
        assert page.errors == [], page.errors


def test_marimo_scrubs_a_volume_in_the_page(page, tmp_path):
    """The volume view in marimo's shadow root: a slider moves the axial slice, a click on the
    coronal view moves the crosshair, and a method change goes through marimo's kernel."""
    with marimo(NOTEBOOKS / "marimo" / "volumes.py", tmp_path) as server:
        page.goto(server.url)
        label = page.get_by_test_id("cw-slice-label-axial")
        label.wait_for(state="visible", timeout=120_000)
        assert label.text_content() == "Axial 17/32"
        axial = "[data-testid=cw-slice-axial]"
        before = canvas_summary(page, axial)
        page.get_by_test_id("cw-slider-axial").fill("3")
        expect(label).to_have_text("Axial 4/32", timeout=5_000)
        assert canvas_summary(page, axial)["digest"] != before["digest"]
        box = page.get_by_test_id("cw-slice-coronal").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 16.5 / 32)
        expect(label).to_have_text("Axial 17/32", timeout=5_000)  # the click's row is depth 16
        label = next(
            text for text in method_menu(page).locator("option").all_text_contents() if text.startswith("LayerCAM — ")
        )
        method_menu(page).select_option(label=label)
        wait_for_status(page, "LayerCAM · features.3")
        assert page.errors == [], page.errors


def cancel_after_the_first_map(page) -> None:
    """ScoreCAM at the 1280-channel last layer (seconds an image, even through the folded copy): Cancel
    once the shown image's map arrived keeps that map and says so; the map shown is ScoreCAM's, not the
    previous method's."""
    page.locator("[data-testid=cw-layer-node][data-path='features.18']").click()
    wait_for_status(page, "features.18")
    before = canvas_summary(page, CANVAS)["digest"]
    menu = method_menu(page)
    menu.select_option(label=next(t for t in menu.locator("option").all_text_contents() if t.startswith("ScoreCAM — ")))
    progress = page.locator(".cw-progress-label").first
    expect(progress).to_contain_text("for the other", timeout=120_000)  # the shown image's map is done
    page.get_by_test_id("cw-cancel").first.click()
    expect(progress).to_contain_text("are kept", timeout=60_000)
    wait_for_status(page, "ScoreCAM · features.18")
    assert canvas_summary(page, CANVAS)["digest"] != before, "the kept ScoreCAM map is not shown"
    assert page.locator(".cw-canvas.cw-stale").count() == 0


def test_marimo_runs_the_dataset_explorer_and_opens_a_row_in_a_cam_explorer(page, tmp_path):
    with marimo(NOTEBOOKS / "marimo" / "dataset_explorer.py", tmp_path) as server:
        page.goto(server.url)
        click_a_row(page, 2, "marimo")
        page.get_by_role("button", name="Open in CAMExplorer").click()
        explorer = page.locator(".cw-dataset-explorer .cw-explorer")
        explorer.locator(CANVAS).wait_for(state="visible", timeout=60_000)
        wait_for_status(page, "features.2", scope=".cw-dataset-explorer .cw-explorer")
        assert_drawn(canvas_summary(page, f".cw-dataset-explorer .cw-explorer {CANVAS}"), "the row in the explorer")
        assert page.errors == [], page.errors


def dataset_notebook(path: Path) -> Path:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_voila_serves_a_dataset_explorer(page, tmp_path):
    with voila(dataset_notebook(tmp_path / "dataset.ipynb"), tmp_path) as server:
        page.goto(server.url, timeout=300_000)
        click_a_row(page, 2, "Voila")
        assert page.errors == [], page.errors


def test_voila_serves_the_explorer_tutorial_as_an_app(page, tmp_path):
    with voila(NOTEBOOKS / "02_explorer.ipynb", tmp_path) as server:
        page.goto(server.url, timeout=300_000)
        click_a_layer_and_a_method(page)
        assert "load_model(" not in page.locator("body").inner_text(), "Voila showed the code"
        assert page.errors == [], page.errors


HOST_JS = Path(__file__).resolve().parents[2] / ".venv" / "host-js"


def serve_the_cdns_from_the_registry_files(page) -> list[str]:
    """Route what an nbconvert page loads from CDNs to the npm packages ``make install`` unpacked
    (html-manager, anywidget, require.js); anything else is refused. Returns the URLs asked for."""
    assert (HOST_JS / ".installed").exists(), f"{HOST_JS} is missing: run `make install`"
    asked: list[str] = []

    def handle(route):
        url = route.request.url
        if url.startswith("file:"):
            return route.continue_()
        asked.append(url)
        if re.search(r"/require\.js/[^/]+/require(\.min)?\.js$", url):
            return route.fulfill(
                path=str(HOST_JS / "requirejs-2.3.8/package/require.js"), content_type="text/javascript"
            )
        found = re.search(r"@jupyter-widgets/html-manager@[^/]*/dist/([\w.-]+)$", url)
        if found:
            return route.fulfill(
                path=str(HOST_JS / "jupyter-widgets-html-manager-1.0.15/package/dist" / found.group(1))
            )
        if re.search(r"/npm/anywidget@[^/]*/dist/index\.js$", url):
            return route.fulfill(
                path=str(HOST_JS / "anywidget-0.11.0/package/dist/index.js"), content_type="text/javascript"
            )
        return route.abort()

    page.route("**/*", handle)
    return asked


def executed_page(notebook, tmp_path: Path, name: str) -> Path:
    """``notebook`` executed in a kernel (its widget state kept) and written as nbconvert's HTML."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import ExecutePreprocessor

    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    ExecutePreprocessor(timeout=300, kernel_name="python3").preprocess(
        notebook, {"metadata": {"path": str(Path(__file__).resolve().parents[2])}}
    )
    assert "application/vnd.jupyter.widget-state+json" in notebook.metadata.get("widgets", {})
    body, _ = HTMLExporter().from_notebook_node(notebook)
    path = tmp_path / name
    path.write_text(body)
    return path


def test_the_html_manager_page_draws_the_dataset_explorer(page, tmp_path):
    import nbformat

    notebook = nbformat.read(dataset_notebook(tmp_path / "dataset.ipynb"), as_version=4)
    path = executed_page(notebook, tmp_path, "dataset.html")
    serve_the_cdns_from_the_registry_files(page)
    page.goto(path.resolve().as_uri())
    items = page.get_by_test_id("cw-dataset-item")
    items.first.wait_for(state="visible", timeout=60_000)
    assert items.count() == 8
    assert page.locator(".cw-dataset-explorer img.cw-image").first.is_visible()  # the histogram
    assert page.locator(".cw-dataset-explorer .cw-confusion button").count() >= 4
    assert page.get_by_text("Click a thumbnail to see its photo and map large.").is_visible()
    assert page.errors == [], page.errors


def test_the_html_manager_page_of_an_executed_notebook_draws_the_explorer(page, tmp_path):
    """``jupyter nbconvert --to html --execute``: the page GitHub-like viewers build, drawn by the
    html-manager that VS Code's and Colab's renderers share. No kernel: the saved state draws the
    explorer, and what the browser does alone (the colormap) works."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import torch\nimport camwidgets as cw\nfrom tests.conftest import Small, seeded\n"
            "explorer = cw.CAMExplorer(seeded(Small), torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)))\n"
            "explorer"
        )
    ]
    path = executed_page(notebook, tmp_path, "explorer.html")
    output = notebook.cells[0].outputs[-1]["data"]
    assert "image/png" in output, "the saved output carries a picture for viewers without widgets"
    asked = serve_the_cdns_from_the_registry_files(page)
    page.goto(path.resolve().as_uri())
    page.locator(".cw-app [data-testid=cw-overlay-canvas]").wait_for(state="visible", timeout=60_000)
    assert any("anywidget" in url for url in asked) and any("html-manager" in url for url in asked)
    canvas = ".cw-app [data-testid=cw-overlay-canvas]"
    before = canvas_summary(page, canvas)
    assert_drawn(before, "the explorer drawn by the html-manager")
    assert page.get_by_test_id("cw-layer-node").count() >= 4 and page.locator(".cw-app [role=tab]").count() == 5
    expect(page.get_by_test_id("cw-status").first).to_contain_text("GradCAM · ")
    # nothing answers here: the controls that need the kernel are disabled, and the page says so
    assert "no kernel runs here" in page.get_by_test_id("cw-no-kernel").text_content()
    assert page.locator(".cw-app label.cw-dropdown select").first.is_disabled()
    page.get_by_test_id("cw-colormap").first.select_option("viridis")  # drawn in the page, no kernel needed
    deadline = time.monotonic() + 10
    while canvas_summary(page, canvas)["digest"] == before["digest"] and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    after = canvas_summary(page, canvas)
    assert after["digest"] != before["digest"], "the colormap changed nothing"
    assert page.errors == [], page.errors
