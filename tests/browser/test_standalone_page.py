"""The self-contained HTML pages, opened from file:// in Chromium with the network off: the dataset
report (results.to_html) and a saved explorer (CAMExplorer.to_html: the notebook's own app) draw
their maps with the explorer's own module, switch colormap, opacity and mode in the page, follow a
gallery click, ask for nothing but the file itself, and leave hostile text as text."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import MARKUP, Small, seeded

from .canvas import assert_drawn, canvas_summary

pytestmark = pytest.mark.browser

CANVAS = "#cw-page-overlay [data-testid=cw-overlay-canvas]"
THUMB = "#cw-page-thumbnails [data-testid=cw-thumbnail]"


@pytest.fixture
def offline_page(chromium):
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    context.set_offline(True)
    page = context.new_page()
    page.requests, page.problems = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    yield page
    context.close()


def open_page(page, path) -> None:
    page.goto(path.resolve().as_uri())
    page.wait_for_function("document.body.dataset.cwReady === 'true'", timeout=30_000)
    page.wait_for_timeout(100)


def changed_after(page, action, before: dict, selector: str = CANVAS) -> dict:
    action()
    page.wait_for_function(
        "([selector, digest]) => { const c = document.querySelector(selector); const x = document.createElement('canvas');"
        " x.width = c.width; x.height = c.height; x.getContext('2d').drawImage(c, 0, 0);"
        " const d = x.getContext('2d').getImageData(0, 0, x.width, x.height).data; let h = 0;"
        " for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i] + 3 * d[i + 1] + 7 * d[i + 2] + 11 * d[i + 3]) % 2147483647;"
        " return h !== digest; }",
        arg=[selector, before["digest"]],
        timeout=10_000,
    )
    return canvas_summary(page, selector)


def only_the_file_was_asked_for(page, path) -> None:
    assert [url for url in page.requests if not url.startswith(("blob:", "data:"))] == [path.resolve().as_uri()]
    assert page.problems == []


def test_a_dataset_report_switches_colormap_opacity_and_rows_offline(offline_page, tmp_path):
    from camwidgets import explain_dataset
    from tests.dataset.common import SETTINGS, model, write_folder

    results = explain_dataset(model(), write_folder(tmp_path / "shapes"), out=tmp_path / "out", **SETTINGS)
    results.manifest["classes"] = [MARKUP, "square"]  # a class name with markup
    path = results.to_html(tmp_path / "report.html", rows=results.table[results.table["error"] == ""])
    page = offline_page
    open_page(page, path)
    thumbs = page.locator(THUMB)
    assert thumbs.count() == int((results.table["error"] == "").sum())
    first = canvas_summary(page, CANVAS)
    assert_drawn(first, "the report's overlay")
    gallery_before = page.locator("#cw-page-thumbnails canvas").first.evaluate("c => c.toDataURL()")
    viridis = changed_after(page, lambda: page.locator("[data-testid=cw-colormap]").select_option("viridis"), first)
    assert_drawn(viridis, "the viridis overlay")
    assert (
        page.locator("#cw-page-thumbnails canvas").first.evaluate("c => c.toDataURL()") != gallery_before
    )  # the gallery follows
    faint = changed_after(page, lambda: page.locator("[data-testid=cw-opacity]").fill("0.1"), viridis)
    assert page.get_by_test_id("cw-opacity-value").text_content() == "0.10" and faint["digest"] != viridis["digest"]
    key = thumbs.nth(3).get_attribute("data-key")
    changed_after(page, lambda: thumbs.nth(3).click(), faint)
    assert page.get_by_test_id("cw-status").text_content().startswith(f"#{key} ")
    assert thumbs.nth(3).get_attribute("aria-pressed") == "true"
    assert page.evaluate("typeof window.cwXss") == "undefined" and page.locator("img.cwxss").count() == 0
    assert MARKUP in page.locator("body").inner_text()  # the class name is shown as text
    only_the_file_was_asked_for(page, path)


def test_a_saved_explorer_is_the_same_app_offline(offline_page, tmp_path):
    """CAMExplorer.to_html runs the notebook's own front end: the same tree, controls and tabs; the
    gallery switches images, colormap and mode switch in the page, and what needs the kernel is
    disabled or answered with the page's note."""
    from camwidgets import CAMExplorer
    from camwidgets.render.page import NO_KERNEL

    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    explorer = CAMExplorer(seeded(Small), images)
    explorer.set(image=2)
    explorer.overlay.colormap = "turbo"
    path = explorer.to_html(tmp_path / "view.html")
    page = offline_page
    open_page(page, path)
    canvas = "#cw-page-app [data-testid=cw-overlay-canvas]"
    thumbs = page.locator("#cw-page-app [data-testid=cw-gallery-item]")
    assert thumbs.count() == 3 and page.locator(".cw-explorer").count() == 1
    assert page.locator("[data-testid=cw-gallery-item][aria-pressed=true]").get_attribute("data-key") == "2"
    assert page.get_by_test_id("cw-colormap").input_value() == "turbo"
    assert page.get_by_test_id("cw-status").text_content().startswith("GradCAM · ")
    assert page.get_by_test_id("cw-layer-node").count() > 3 and page.locator("[role=tab]").count() == 5
    overlay = canvas_summary(page, canvas)
    assert_drawn(overlay, "the saved view")
    assert page.locator("label.cw-dropdown select").first.is_disabled()  # the method menu needs the kernel
    assert NO_KERNEL in page.locator("body").inner_text()
    heatmap = changed_after(page, lambda: page.get_by_test_id("cw-mode-heatmap").click(), overlay, canvas)
    thumbs.nth(0).click()  # another image's map, from the page itself
    page.wait_for_function(
        "() => document.querySelector('[data-testid=cw-gallery-item][aria-pressed=true]').dataset.key === '0'",
        timeout=10_000,
    )
    assert canvas_summary(page, canvas)["digest"] != heatmap["digest"]
    row = page.locator("[data-testid=cw-layer-node][aria-selected=false].cw-selectable").first
    row.click()  # a new layer needs the kernel: said, nothing changes
    page.get_by_test_id("cw-tree-error").wait_for(state="visible", timeout=10_000)
    assert NO_KERNEL in page.get_by_test_id("cw-tree-error").text_content()
    only_the_file_was_asked_for(page, path)


def test_a_page_draws_each_views_boxes_and_outlines_with_labels_as_text(offline_page, tmp_path):
    import numpy as np

    from camwidgets.render.page import PageView, standalone_page, write_page

    rng = np.random.default_rng(2)
    marks = [
        {"boxes": [{"index": 0, "box": [4, 6, 30, 40], "label": MARKUP, "chosen": True}, {"index": 1, "box": [40, 8, 60, 30], "label": "circle 0.91", "chosen": False}],
         "outlines": [], "region": None, "draw": ""},
        {"boxes": [], "outlines": [[10, 10, 50, 10, 50, 50, 10, 50]], "region": [5, 5, 30, 30], "draw": "region"},
    ]  # fmt: skip
    views = [PageView(key=str(i), photo=rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), levels=rng.integers(0, 256, (64, 64), dtype=np.uint8),
                      caption=f"view {i}", marks=mark) for i, mark in enumerate(marks)]  # fmt: skip
    path = write_page(tmp_path / "marks.html", standalone_page("marks", views))
    page = offline_page
    open_page(page, path)
    assert page.get_by_test_id("cw-box").count() == 2 and page.locator(".cw-detection.cw-chosen").count() == 1
    assert MARKUP in page.get_by_test_id("cw-marks").text_content()  # a label with markup is text
    assert page.evaluate("typeof window.cwXss") == "undefined" and page.locator("img.cwxss").count() == 0
    page.locator(THUMB).nth(1).click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=cw-outline]').length === 1", timeout=10_000)
    assert page.get_by_test_id("cw-box").count() == 0 and page.get_by_test_id("cw-region").count() == 1
    assert not page.locator("[data-testid=cw-overlay-canvas]").evaluate("c => c.classList.contains('cw-draws')"), (
        "a page takes no drag"
    )
    only_the_file_was_asked_for(page, path)


def test_a_saved_dataset_explorer_shows_a_clicked_row_offline(offline_page, tmp_path):
    """DatasetExplorer.to_html: the rows shown, the histogram and the confusion matrix as in the
    notebook; a thumbnail click shows that row large from the page itself; filters need the kernel."""
    from camwidgets import explain_dataset
    from camwidgets.explorer.dataset_view import DatasetExplorer
    from camwidgets.render.page import NO_KERNEL
    from tests.dataset.common import SETTINGS, model, write_folder

    results = explain_dataset(model(), write_folder(tmp_path / "shapes"), out=tmp_path / "out", **SETTINGS)
    browser = DatasetExplorer(results, page_size=8)
    path = browser.to_html(tmp_path / "rows.html")
    page = offline_page
    open_page(page, path)
    items = page.get_by_test_id("cw-dataset-item")
    assert items.count() == 8 and page.locator(".cw-confusion button").count() >= 4
    assert page.get_by_text("Click a thumbnail to see its photo and map large.").is_visible()
    key = items.nth(3).get_attribute("data-key")
    items.nth(3).click()
    page.get_by_test_id("cw-overlay-canvas").wait_for(state="visible", timeout=10_000)
    assert page.get_by_test_id("cw-status").text_content().startswith(f"#{key} ")
    assert_drawn(canvas_summary(page, "#cw-page-app [data-testid=cw-overlay-canvas]"), "the clicked row")
    assert "confidence: " in page.locator(".cw-html", has_text="confidence: ").first.text_content()
    assert page.locator("label.cw-dropdown select").first.is_disabled()  # sorting needs the kernel
    assert NO_KERNEL in page.locator("body").inner_text() and "rows 1–8 of " in page.locator("h1 + p").inner_text()
    only_the_file_was_asked_for(page, path)


def test_a_saved_volume_explorer_scrubs_slices_and_switches_volumes_offline(offline_page, tmp_path):
    """A volume's saved page is the same view: its slices drawn from the buffers in the file, a slider
    moving the axial slice in the page, and a gallery click showing the other volume from its start."""
    from camwidgets import CAMExplorer
    from camwidgets.data.solids import make_solids
    from camwidgets.data.spacetime_models import load_solids_cnn

    model, classes = load_solids_cnn()
    explorer = CAMExplorer(model, list(make_solids(2, seed=51).volumes), labels=classes, task="multilabel")
    path = explorer.to_html(tmp_path / "volume.html")
    page = offline_page
    open_page(page, path)
    axial = "#cw-page-app [data-testid=cw-slice-axial]"
    for view in ("axial", "coronal", "sagittal"):
        assert_drawn(canvas_summary(page, f"#cw-page-app [data-testid=cw-slice-{view}]"), f"the saved {view} slice")
    assert page.get_by_test_id("cw-slice-label-axial").text_content() == "Axial 17/32"
    before = canvas_summary(page, axial)
    moved = changed_after(page, lambda: page.get_by_test_id("cw-slider-axial").fill("5"), before, axial)
    assert page.get_by_test_id("cw-slice-label-axial").text_content() == "Axial 6/32"
    page.locator("#cw-page-app [data-testid=cw-gallery-item]").nth(1).click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=cw-slice-label-axial]').textContent === 'Axial 17/32'",
        timeout=10_000,
    )
    assert canvas_summary(page, axial)["digest"] not in (before["digest"], moved["digest"])
    only_the_file_was_asked_for(page, path)
