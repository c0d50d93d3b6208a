"""CAMExplorer in a real JupyterLab 4 (and Notebook 7) with the pretrained mobilenet_v2 and a
bundled photo: rendering, kernel round trips, browser-only view changes, keyboard navigation
that leaves the notebook alone, the layer sweep, errors, and the README screenshot.

The checks share one notebook and run in file order; each reads the state it starts from."""

from __future__ import annotations

import base64
import json
import re
import time

import pytest

from .canvas import assert_drawn, canvas_summary
from .contrast import CONTRAST_RATIO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SETUP = """
import camwidgets as cw
from camwidgets.pretrained import load_model

model, weights = load_model("mobilenet_v2")
"""
EXPLORER_CELLS = [SETUP, "explorer = cw.CAMExplorer(model, ['chelsea'], labels=weights)\nexplorer", "after = 1"]
EXPLORER_CELL = 1
CANVAS = "[data-testid=cw-overlay-canvas]"
CONTROL_DESCRIPTIONS = ("Method", "Target", "Normalise", "aug_smooth", "eigen_smooth")
HOOKS = "sum(len(getattr(m, a)) for m in model.modules() for a in ('_forward_hooks', '_forward_pre_hooks', '_backward_hooks', '_backward_pre_hooks'))"


def method_label(kernel, name: str) -> str:
    """The method menu's label of ``name`` now (labels carry the price at the chosen layers)."""
    return kernel.evaluate(f"next(label for label, value in explorer.controls.method.options if value == {name!r})")


@pytest.fixture(scope="module")
def explorer_notebook(lab):
    notebook = lab.open("explorer_mobilenet.ipynb", EXPLORER_CELLS)
    notebook.page.locator(".cw-explorer").wait_for(state="visible")
    yield notebook
    lab.close(notebook)


@pytest.fixture(scope="module")
def kernel(lab, explorer_notebook):
    return lab.probe(explorer_notebook)


@pytest.fixture
def page(explorer_notebook):
    return explorer_notebook.page


def status(page) -> str:
    return page.get_by_test_id("cw-status").text_content()


def wait_for_status(page, *parts: str, timeout_ms: int = 60_000) -> str:
    page.wait_for_function(
        "(parts) => { const s = document.querySelector('[data-testid=cw-status]').textContent; return parts.every(p => s.includes(p)); }",
        arg=list(parts),
        timeout=timeout_ms,
    )
    return status(page)


def digest(page) -> int:
    return canvas_summary(page, CANVAS)["digest"]


def wait_for_new_pixels(page, old: int, timeout_s: float = 5) -> int:
    deadline = time.monotonic() + timeout_s
    while (new := digest(page)) == old:
        assert time.monotonic() < deadline, "the overlay canvas did not change"
        time.sleep(0.05)
    return new


def dropdown(page, description: str):
    label = page.locator(".cw-field-label", has_text=re.compile(f"^{re.escape(description)}$"))
    return page.locator("label.cw-dropdown", has=label).locator("select")


def set_range(page, testid: str, value: float) -> None:
    page.get_by_test_id(testid).evaluate(
        "(input, value) => { input.value = String(value); input.dispatchEvent(new Event('input', {bubbles: true})); }",
        value,
    )


def take_readme_screenshot(page, path) -> None:
    """The explorer from the gallery down to the overlay's status line, left sidebar closed."""
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    page.set_viewport_size({"width": 1280, "height": 1400})
    explorer = page.locator(".cw-explorer")
    explorer.evaluate("node => node.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)  # layout after the resize; thumbnails painted
    box = explorer.bounding_box()
    bottom = page.get_by_test_id("cw-status").bounding_box()
    page.screenshot(
        path=str(path),
        clip={
            "x": box["x"],
            "y": box["y"],
            "width": box["width"],
            "height": bottom["y"] + bottom["height"] + 8 - box["y"],
        },
    )


def test_explorer_renders_tree_overlay_and_status(page, kernel, screenshots):
    explorer = page.locator(".cw-explorer")
    assert page.get_by_test_id("cw-no-kernel").count() == 0  # a live kernel: no saved-state note
    assert explorer.get_attribute("class") and "cw-explorer" in explorer.get_attribute("class")
    rows = page.get_by_test_id("cw-layer-node")
    assert rows.count() > 10
    assert page.get_by_test_id("cw-layer-tree").locator(".cw-suggested").get_attribute("data-path") == "features.18"
    selected = page.locator("[data-testid=cw-layer-node][aria-selected=true]")
    assert [selected.nth(i).get_attribute("data-path") for i in range(selected.count())] == ["features.18"]
    assert page.locator("[data-testid=cw-layer-node][data-path=features]").get_attribute("aria-expanded") == "true"
    assert_drawn(canvas_summary(page, CANVAS), "overlay canvas")
    shown = wait_for_status(page, "GradCAM", "features.18", "Egyptian cat")
    assert shown == kernel.evaluate("explorer.overlay.status")
    for description in CONTROL_DESCRIPTIONS:
        assert explorer.get_by_text(description, exact=True).count() >= 1, f"no control described {description!r}"
    sweep = len(kernel.evaluate("explorer.sweep.item_keys"))
    page.wait_for_function(
        "(n) => document.querySelectorAll('[data-testid=cw-sweep-item]').length === n", arg=sweep, timeout=30_000
    )
    assert not [e for e in page.console_errors if "cw-" in e or "anywidget" in e or "No version of module" in e], (
        page.console_errors
    )
    take_readme_screenshot(page, screenshots / "explorer.png")
    assert (screenshots / "explorer.png").stat().st_size > 50_000


def test_method_dropdown_updates_status_and_pixels_through_the_kernel(page, kernel):
    before = digest(page)
    dropdown(page, "Method").select_option(label=method_label(kernel, "layercam"))
    wait_for_status(page, "LayerCAM")
    assert kernel.evaluate("explorer.state.method") == "layercam"
    wait_for_new_pixels(page, before)
    assert_drawn(canvas_summary(page, CANVAS), "LayerCAM overlay")


def test_opacity_colormap_and_mode_change_pixels_while_the_kernel_is_busy(explorer_notebook, page, kernel):
    """The kernel sleeps while the view controls change; the canvas still changes, so no round trip is involved."""
    start = kernel.evaluate("(explorer.overlay.opacity, explorer.overlay.colormap, explorer.overlay.mode)")
    assert start[2] == "overlay"
    pixels = digest(page)
    sleeping = kernel.start("import time; time.sleep(8)")
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'busy'", timeout=10_000
    )
    set_range(page, "cw-opacity", 0.9 if start[0] < 0.7 else 0.2)
    pixels = wait_for_new_pixels(page, pixels)
    page.get_by_test_id("cw-colormap").select_option("viridis")
    pixels = wait_for_new_pixels(page, pixels)
    page.get_by_test_id("cw-mode-heatmap").click()
    pixels = wait_for_new_pixels(page, pixels)
    page.get_by_test_id("cw-mode-photo").click()
    wait_for_new_pixels(page, pixels)
    assert not kernel.finished(), "the kernel finished sleeping before the view changes were checked"
    kernel.wait(sleeping, timeout=30)
    # Afterwards the kernel has the new view settings (plain trait syncs, nothing recomputed).
    assert kernel.wait_for("(explorer.overlay.colormap, explorer.overlay.mode)", ("viridis", "photo")) == (
        "viridis",
        "photo",
    )
    page.get_by_test_id("cw-mode-overlay").click()
    kernel.wait_for("explorer.overlay.mode", "overlay")


def test_keyboard_moves_and_selects_in_the_tree_without_notebook_shortcuts(explorer_notebook, page, kernel):
    explorer_notebook.set_active_cell(EXPLORER_CELL)
    notebook_before = explorer_notebook.notebook_state()
    paths = page.get_by_test_id("cw-layer-node").evaluate_all("rows => rows.map(row => row.dataset.path)")
    page.locator("[data-testid=cw-layer-node][tabindex='0']").focus()
    focused = lambda: page.evaluate("() => document.activeElement.dataset.path")  # noqa: E731
    start = focused()
    at = paths.index(start)
    page.keyboard.press("ArrowDown")
    assert focused() == paths[at + 1]
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert focused() == paths[at - 1]
    target = paths[at - 1]
    assert page.locator(f"[data-testid=cw-layer-node][data-path='{target}']").get_attribute("aria-disabled") == "false"
    page.keyboard.press("Enter")
    page.wait_for_selector(f"[data-testid=cw-layer-node][data-path='{target}'][aria-selected=true]", timeout=60_000)
    assert kernel.wait_for("explorer.state.layers", (target,)) == (target,)
    wait_for_status(page, target)
    assert explorer_notebook.notebook_state() == notebook_before, "a key in the tree ran a notebook command"


def test_a_colorbar_with_the_value_range_and_a_labelled_opacity(page, kernel):
    colorbar = page.get_by_test_id("cw-colorbar")
    assert colorbar.is_visible()
    low, high = kernel.evaluate("list(explorer.overlay.value_range)")
    assert float(page.get_by_test_id("cw-colorbar-low").text_content()) == pytest.approx(low, abs=1e-3)
    assert float(page.get_by_test_id("cw-colorbar-high").text_content()) == pytest.approx(high, abs=1e-3)
    dropdown(page, "Normalise").select_option(label="none (raw)")  # raw values: the bar says their range
    page.wait_for_function(
        "() => Math.abs(Number(document.querySelector('[data-testid=cw-colorbar-high]').textContent) - 1) > 1e-3",
        timeout=60_000,
    )
    raw_high = kernel.evaluate("explorer.overlay.value_range[1]")
    assert float(page.get_by_test_id("cw-colorbar-high").text_content()) == pytest.approx(raw_high, rel=1e-2)
    dropdown(page, "Normalise").select_option(label="per image")
    value = page.get_by_test_id("cw-opacity-value").text_content()
    assert value == f"{kernel.evaluate('explorer.overlay.opacity'):.2f}"
    assert "Opacity" in page.locator(".cw-opacity-label").text_content()


def test_focus_stays_in_the_tree_after_a_click_and_a_selection(page, kernel):
    """A mouse click on a row selects it and the arrow keys go on from there; the rows drawn again
    for the new selection keep the keyboard focus (it does not fall back to the page)."""
    row = page.locator("[data-testid=cw-layer-node][data-path='features.16']")
    row.click()
    wait_for_status(page, "features.16")
    page.wait_for_timeout(300)
    focused = "() => { const a = document.activeElement; return a && a.dataset ? a.dataset.path || null : null; }"
    assert page.evaluate(focused) == "features.16"
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == "features.17"
    page.keyboard.press("Enter")
    wait_for_status(page, "features.17")
    page.wait_for_timeout(300)
    assert page.evaluate(focused) == "features.17", "the selection's redraw dropped the focus"
    page.keyboard.press("ArrowUp")
    assert page.evaluate(focused) == "features.16"
    kernel.run("explorer.set(layers=['features.18'])")
    wait_for_status(page, "features.18")


def test_a_layer_that_cannot_be_picked_says_why_on_hover_and_click(page, kernel):
    layers = kernel.evaluate("list(explorer.state.layers)")
    filter_box = page.get_by_test_id("cw-layer-filter")
    try:
        filter_box.fill("classifier")
        row = page.locator("[data-testid=cw-layer-node][data-path='classifier.1']")
        row.wait_for(timeout=30_000)
        assert row.get_attribute("aria-disabled") == "true" and "no spatial grid" in row.get_attribute("title")
        row.click(force=True)  # aria-disabled: Playwright would wait for it to be enabled; a person just clicks
        note = page.get_by_test_id("cw-tree-note")
        assert note.text_content().startswith("classifier.1 cannot be explained: its output (1000) has no spatial grid")
        assert kernel.evaluate("list(explorer.state.layers)") == layers
        filter_box.fill("features.18")
        suggested = page.locator("[data-testid=cw-layer-node][data-path='features.18']")
        assert suggested.get_attribute("title") == "NCHW 7x7 grid"
        assert "explaining 'features.18' (NCHW 7x7 grid)" in suggested.locator(".cw-badge").get_attribute("title")
    finally:
        filter_box.fill("")


def test_clicking_a_sweep_thumbnail_selects_that_layer(page, kernel):
    current = kernel.evaluate("explorer.state.layers")
    choice = next(path for path in ("features.14", "features.10", "features.7") if (path,) != current)
    page.locator(f"[data-testid=cw-sweep-item][data-path='{choice}']").click()
    assert kernel.wait_for("explorer.state.layers", (choice,)) == (choice,)
    page.wait_for_selector(f"[data-testid=cw-layer-node][data-path='{choice}'][aria-selected=true]", timeout=30_000)
    wait_for_status(page, choice)
    assert page.locator(f"[data-testid=cw-sweep-item][data-path='{choice}']").get_attribute("aria-pressed") == "true"


def test_the_sweep_grid_wraps_keeps_its_scroll_and_shows_the_selected_thumbnail(page, kernel):
    grid = page.locator("[data-testid=cw-sweep] .cw-thumbs-wrap")
    items = page.locator("[data-testid=cw-sweep-item]")
    tops = items.evaluate_all("nodes => nodes.map(node => node.offsetTop)")
    assert len(set(tops)) >= 3, "the sweep does not wrap into rows"  # every stage in rows, not one long strip
    grid.evaluate("node => { node.scrollTop = node.scrollHeight; }")
    scrolled = grid.evaluate("node => node.scrollTop")
    assert scrolled > 0, "the grid has nothing to scroll at this size"
    last = items.last
    path = last.get_attribute("data-path")
    last.click()
    assert kernel.wait_for("explorer.state.layers", (path,)) == (path,)
    page.wait_for_selector(f"[data-testid=cw-sweep-item][data-path='{path}'][aria-pressed=true]", timeout=30_000)
    grid = page.locator("[data-testid=cw-sweep] .cw-thumbs-wrap")  # redrawn
    assert grid.evaluate("node => node.scrollTop") >= scrolled - 2  # not back at the top
    box, item = grid.bounding_box(), page.locator(f"[data-testid=cw-sweep-item][data-path='{path}']").bounding_box()
    assert box["y"] - 1 <= item["y"] and item["y"] + item["height"] <= box["y"] + box["height"] + 1


def readout(page) -> tuple[int, int]:
    x, y = re.match(r"x (\d+), y (\d+):", page.get_by_test_id("cw-readout").text_content()).groups()
    return int(x), int(y)


def test_wheel_zooms_about_the_pointer_drag_pans_and_the_readout_stays_true(page, kernel):
    viewport = page.get_by_test_id("cw-viewport")
    box = viewport.bounding_box()
    point = (box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.6)
    page.mouse.move(*point)
    before = readout(page)
    for _ in range(3):
        page.mouse.wheel(0, -120)  # zoom in, about the pointer
    page.wait_for_function("() => document.querySelector('[data-testid=cw-zoom]').textContent !== ''")
    assert page.get_by_test_id("cw-zoom").text_content() == "2.0×"
    canvas = page.get_by_test_id("cw-overlay-canvas").bounding_box()
    assert canvas["width"] == pytest.approx(box["width"] * 1.25**3, rel=0.01)
    assert viewport.bounding_box() == box  # the page layout does not move
    page.mouse.move(point[0] + 1, point[1])
    page.mouse.move(*point)
    x, y = readout(page)
    assert abs(x - before[0]) <= 1 and abs(y - before[1]) <= 1  # the same pixel stays under the pointer
    width, height = kernel.evaluate("(explorer.overlay.width, explorer.overlay.height)")
    level = kernel.evaluate(f"int(explorer.overlay.levels()[{y}, {x}])")
    low, high = kernel.evaluate("list(explorer.overlay.value_range)")
    shown = float(page.get_by_test_id("cw-readout").text_content().rsplit(":", 1)[1])
    assert shown == pytest.approx(low + level / 255 * (high - low), abs=2e-3)  # the value under the pointer
    page.mouse.down()
    page.mouse.move(point[0] - 60, point[1] - 40, steps=4)  # drag the picture left and up
    page.mouse.up()
    page.mouse.move(point[0] + 1, point[1])
    page.mouse.move(*point)
    panned = readout(page)
    assert panned[0] > x and panned[1] > y and panned[0] < width and panned[1] < height
    page.mouse.dblclick(*point)
    assert page.get_by_test_id("cw-zoom").text_content() == ""
    assert page.get_by_test_id("cw-overlay-canvas").bounding_box()["width"] == pytest.approx(box["width"], abs=1)


def test_find_class_takes_a_typed_name_and_says_when_there_is_none(page, kernel):
    box = page.locator(".cw-explorer").get_by_placeholder("type a class name, Enter")
    try:
        box.fill("tabby")
        box.press("Enter")
        assert "tabby" in kernel.wait_for("explorer.session.labels[explorer.state.target or 0]", "tabby")
        wait_for_status(page, "tabby")
        box.fill("zebracorn")
        box.press("Enter")
        page.get_by_text("no class named 'zebracorn'", exact=False).wait_for(timeout=30_000)
        assert kernel.evaluate("explorer.session.labels[explorer.state.target]") == "tabby"  # nothing else changed
    finally:
        kernel.run("explorer.set(target=None)")


def test_a_slow_method_says_its_price_shows_progress_over_the_dimmed_map_and_a_cancel_stays_said(page, kernel):
    label = method_label(kernel, "scorecam")
    assert re.search(r"ScoreCAM — perturbation · slow · [\d ]+ passes ≈ ", label), label
    before = {"method": kernel.evaluate("explorer.state.method"), "pixels": digest(page)}
    placed = page.get_by_test_id("cw-overlay-canvas").bounding_box()
    dropdown(page, "Method").select_option(label=label)
    progress = page.get_by_test_id("cw-progress")
    progress.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelector('.cw-progress-label').textContent.includes('ScoreCAM')", timeout=30_000
    )
    assert page.locator(".cw-canvas.cw-stale").count() == 1  # the old map, dimmed
    bar, canvas = progress.locator("progress").bounding_box(), page.get_by_test_id("cw-overlay-canvas").bounding_box()
    assert (
        bar["width"] >= 200 and canvas["y"] <= bar["y"] < canvas["y"] + canvas["height"] / 3
    )  # wide, over the map's top
    assert canvas["y"] == placed["y"], "the progress row pushed the picture down"
    page.get_by_test_id("cw-cancel").click()
    page.wait_for_function(
        "() => document.querySelector('.cw-progress-label').textContent === 'ScoreCAM cancelled; the previous map is shown'",
        timeout=60_000,
    )
    assert (
        progress.is_visible()
        and page.get_by_test_id("cw-cancel").is_hidden()
        and progress.locator("progress").is_hidden()
    )
    assert page.locator(".cw-canvas.cw-stale").count() == 0 and digest(page) == before["pixels"]
    assert kernel.evaluate("explorer.state.method") == before["method"]
    assert kernel.evaluate(HOOKS) == 0


def test_the_saved_notebook_holds_a_picture_of_the_view(explorer_notebook, lab):
    """Saved from JupyterLab, the explorer's output carries a PNG beside the widget view: what GitHub and nbviewer show."""
    explorer_notebook.command("docmanager:save")
    path = lab.server.root / explorer_notebook.path
    deadline = time.monotonic() + 30
    while True:
        outputs = json.loads(path.read_text())["cells"][EXPLORER_CELL].get("outputs", [])
        data = next((output["data"] for output in outputs if "data" in output), {})
        if "image/png" in data or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "application/vnd.jupyter.widget-view+json" in data and "image/png" in data, sorted(data)
    png = base64.b64decode(data["image/png"])
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def test_an_error_shows_and_the_previous_overlay_stays(page, kernel):
    """A model that raises: the error is shown, the map, status and target stay as they were."""
    before = {"pixels": digest(page), "status": status(page), "target": kernel.evaluate("explorer.state.target")}
    placed = page.get_by_test_id("cw-overlay-canvas").bounding_box()
    assert page.get_by_test_id("cw-error").is_hidden()
    kernel.run(
        "def _fail(module, inputs):\n    raise RuntimeError('model exploded on purpose')\n"
        "_failing = model.register_forward_pre_hook(_fail)\n"
        "explorer.session.cache.clear()"  # the next target needs a forward, whatever earlier tests computed
    )
    try:
        dropdown(page, "Target").select_option(index=3)
        error = page.get_by_test_id("cw-error")
        error.wait_for(state="visible", timeout=60_000)
        assert "model exploded on purpose" in error.text_content()
        assert digest(page) == before["pixels"]
        assert status(page) == before["status"]
        assert kernel.evaluate("explorer.state.target") == before["target"]
        banner = page.get_by_test_id("cw-error-banner")  # over the top of the map, where it is seen
        canvas = page.get_by_test_id("cw-overlay-canvas").bounding_box()
        assert canvas["y"] <= banner.bounding_box()["y"] < canvas["y"] + canvas["height"] / 3
        assert canvas["y"] == placed["y"], "the error banner pushed the picture down"
        page.get_by_test_id("cw-dismiss").click()
        assert banner.is_hidden()
    finally:
        kernel.run("_failing.remove()")
    assert kernel.evaluate(HOOKS) == 0, "the explorer left hooks on the model"


def test_notebook_7_renders_the_explorer_and_logs_no_error_of_its_own(lab):
    """Notebook 7: the explorer renders and works; every console error of the page also appears in a
    notebook with plain ipywidgets only (Notebook 7's own, not the explorer's)."""
    cells = [SETUP, "explorer = cw.CAMExplorer(model, ['coffee', 'chelsea'], labels=weights)\nexplorer"]
    notebook = lab.open("explorer_notebook7.ipynb", cells, ui="notebook")
    try:
        page = notebook.page
        assert page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"
        page.locator(".cw-explorer").wait_for(state="visible")
        assert page.get_by_test_id("cw-layer-node").count() > 10
        assert_drawn(canvas_summary(page, CANVAS), "overlay canvas in Notebook 7")
        wait_for_status(page, "GradCAM", "features.18", "espresso")
        page.locator("[data-testid=cw-gallery-item]").nth(1).click()
        wait_for_status(page, "Egyptian cat")
        page.locator("[data-testid=cw-layer-node][data-path='features.17']").click()
        wait_for_status(page, "features.17")
        for tab in ("Guided", "Compare"):
            page.locator(".cw-explorer [role=tab]", has_text=tab).first.click()
        page.wait_for_timeout(1000)
        errors = set(page.console_errors)
    finally:
        lab.close(notebook)
    plain = lab.open(
        "plain_notebook7.ipynb",
        ["import ipywidgets as w", "w.Tab([w.IntSlider(), w.Button(description='go')])"],
        ui="notebook",
    )
    try:
        plain.page.locator(".widget-slider").first.wait_for()
        plain.page.locator(".lm-TabBar-tab").nth(1).click()
        plain.page.wait_for_timeout(1000)
        baseline = set(plain.page.console_errors)
    finally:
        lab.close(plain)
    assert errors <= baseline, f"console errors only with the explorer: {sorted(errors - baseline)}"


CONTRAST = (
    "(selector) => {"
    + CONTRAST_RATIO
    + "return [...document.querySelectorAll(selector)].slice(0, 40).map(contrastRatio); }"
)


CLIPPED = """
() => [...document.querySelectorAll('.cw-explorer .cw-layer-shape, .cw-explorer .cw-badge, .cw-explorer .cw-field-label, .cw-explorer .cw-tab, .cw-explorer label.cw-field')]
  .filter((node) => node.offsetParent !== null)
  .filter((node) => node.scrollWidth > node.clientWidth + 1 || node.getBoundingClientRect().right > window.innerWidth + 1)
  .map((node) => node.textContent)
"""


def test_a_900_px_window_stacks_the_columns_and_cuts_nothing_off(page, kernel):
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    page.set_viewport_size({"width": 900, "height": 900})
    try:
        page.wait_for_timeout(800)
        tree, overlay = (
            page.get_by_test_id("cw-layer-tree").bounding_box(),
            page.get_by_test_id("cw-overlay").bounding_box(),
        )
        assert overlay["y"] >= tree["y"] + tree["height"] - 1  # stacked: the overlay below the tree
        assert page.evaluate(CLIPPED) == []
        badge = page.locator(".cw-badge").first
        assert (
            badge.is_visible()
            and badge.bounding_box()["x"] + badge.bounding_box()["width"] <= tree["x"] + tree["width"] + 1
        )
    finally:
        page.set_viewport_size({"width": 1280, "height": 1400})


def test_a_900_px_high_window_with_the_file_browser_open_shows_the_tabs(page, kernel):
    """JupyterLab at 1400x900 with the file browser open: with the explorer at the top of the
    notebook, the tab bar below the overlay is on screen, not below the fold."""
    page.evaluate("() => window.jupyterapp.shell.expandLeft()")
    page.set_viewport_size({"width": 1400, "height": 900})
    try:
        page.wait_for_timeout(800)
        page.locator(".cw-explorer").evaluate("node => node.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(300)
        tabs = page.locator(".cw-explorer .cw-tab-bar").first.bounding_box()
        panel = page.locator(
            ".jp-NotebookPanel .jp-WindowedPanel-outer"
        ).first.bounding_box()  # the notebook's scrolled area
        assert tabs["y"] + tabs["height"] <= panel["y"] + panel["height"], (tabs, panel)
        columns = page.get_by_test_id("cw-layer-tree").bounding_box(), page.get_by_test_id("cw-overlay").bounding_box()
        assert columns[1]["x"] > columns[0]["x"] + columns[0]["width"] - 1  # still side by side
    finally:
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        page.set_viewport_size({"width": 1280, "height": 1400})


def test_the_dark_theme_keeps_every_text_readable(page, kernel, screenshots):
    """JupyterLab Dark: text of the tree (the selected row included), the status line and the
    controls keeps a contrast of at least 4.5 (WCAG AA) against what is behind it."""
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    try:
        page.wait_for_selector("body[data-jp-theme-light='false']", state="attached", timeout=60_000)
        assert kernel.wait_for("explorer.theme", "dark") == "dark"  # the kernel's charts follow the theme
        page.wait_for_timeout(1000)
        for selector in (
            "[data-testid=cw-layer-node][aria-selected=true] .cw-layer-name",
            ".cw-layer-row.cw-selectable .cw-layer-name",
            "[data-testid=cw-status]",
            ".cw-colorbar span",
            ".cw-opacity-label",
            ".cw-explorer .cw-field-label",
            ".cw-explorer label.cw-dropdown select",
            ".cw-explorer .cw-tab",
        ):
            ratios = page.evaluate(CONTRAST, selector)
            assert ratios and min(ratios) >= 4.5, (selector, ratios)
        # the README's picture: the default view, whatever the earlier checks left
        kernel.run(
            "explorer.set(method='gradcam', layers=['features.18'], target=None)\nexplorer.overlay.colormap, explorer.overlay.opacity = 'jet', 0.5"
        )
        wait_for_status(page, "GradCAM · features.18")
        page.wait_for_timeout(500)
        page.screenshot(path=str(screenshots / "explorer-dark.png"), clip=page.locator(".cw-explorer").bounding_box())
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
        page.wait_for_selector("body[data-jp-theme-light='true']", state="attached", timeout=60_000)
