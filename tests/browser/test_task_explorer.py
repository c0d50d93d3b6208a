"""The explorer's task modes in real JupyterLab and Chromium, on the models trained here, an
ultralytics YOLOv8n and the ImageNet mobilenet_v2 embedding: click a detected box, drag a rectangle on a segmentation, pick a
concept image; each time the kernel's view, the status line and the canvas's pixels change."""

from __future__ import annotations

import re
import time

import pytest

from .canvas import assert_drawn, canvas_summary
from .explorers import explorer, explorers_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    "import numpy as np, torch\n"
    "import camwidgets as cw\n"
    "from camwidgets.data.scenes import make_scenes\n"
    "from camwidgets.data.task_models import load_shapes_detector, load_shapes_segmenter\n"
    "torch.set_num_threads(1)\n"
    "scenes = [np.round(i.transpose(1, 2, 0) * 255).astype(np.uint8) for i in make_scenes(2, seed=20).images]\n"
    "detector, classes = load_shapes_detector()\n"
    "segmenter, _ = load_shapes_segmenter()\n"
    "from torchvision.models import mobilenet_v2\n"
    "embedder = mobilenet_v2(weights='IMAGENET1K_V1').eval()\n"
    "embedder.classifier = torch.nn.Identity()",
    "detection = cw.CAMExplorer(detector, scenes, labels=classes)\ndetection.set(method='layercam')\ndetection",
    "segmentation = cw.CAMExplorer(segmenter, scenes, labels=classes, target_layers=['backbone.13'])\nsegmentation.set(method='layercam')\nsegmentation",
    "similarity = cw.CAMExplorer(embedder, ['chelsea', 'coffee', 'astronaut'], task='embedding', target_layers=['features.18'])\nsimilarity",
    # an ultralytics YOLOv8n with random weights (none can be downloaded), its batch-norm statistics taken
    # from the scenes, shown at the threshold that leaves the five best boxes of the first scene
    "from ultralytics.nn.tasks import DetectionModel\n"
    "from camwidgets.explorer.session import ExplorerSession\n"
    "torch.manual_seed(0)\n"
    "yolo = DetectionModel('yolov8n.yaml', nc=3, verbose=False)\n"
    "batch = ExplorerSession(yolo, scenes).images.batch\n"
    "for m in yolo.modules():\n"
    "    if isinstance(m, torch.nn.BatchNorm2d): m.reset_running_stats(); m.momentum = None\n"
    "with torch.no_grad(): yolo.train()(batch)\n"
    "yolo.eval()\n"
    "fifth = float(ExplorerSession(yolo, scenes, score_threshold=0.001).task.detections[0]['scores'][4])\n"
    "yolo_detection = cw.CAMExplorer(yolo, scenes, score_threshold=fifth)\nyolo_detection",
]


@pytest.fixture(scope="module")
def notebook(lab):
    yield from explorers_notebook(lab, "task_explorers.ipynb", CELLS, 4)


@pytest.fixture(scope="module")
def kernel(lab, notebook):
    return lab.probe(notebook)


def digest(view) -> int:
    return canvas_summary(view, "[data-testid=cw-overlay-canvas]")["digest"]


def wait_for_text(view, testid: str, text: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while text not in (shown := view.get_by_test_id(testid).text_content()):
        assert time.monotonic() < deadline, f"{testid} still says {shown!r}, not {text!r}"
        time.sleep(0.1)
    return shown


def wait_for_new_pixels(view, old: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while digest(view) == old:
        assert time.monotonic() < deadline, "the overlay canvas did not change"
        time.sleep(0.05)


def snapshot(view, screenshots, name: str) -> None:
    """The explorer's right column (controls and overlay) as ``screenshots/explorer-<name>.png``, for the README."""
    column = view.locator(".cw-right")
    column.scroll_into_view_if_needed()
    view.page.wait_for_timeout(300)
    path = screenshots / f"explorer-{name}.png"
    column.screenshot(path=str(path))
    assert path.stat().st_size > 20_000


def to_screen(view, x: float, y: float, size: int) -> tuple[float, float]:
    """A point in image pixels -> page coordinates over the overlay canvas."""
    box = view.get_by_test_id("cw-overlay-canvas").bounding_box()
    return box["x"] + x / size * box["width"], box["y"] + y / size * box["height"]


@pytest.mark.parametrize("name, index", [("detection", 0), ("yolo_detection", 3)], ids=["torchvision", "yolo"])
def test_clicking_a_detected_box_explains_it(notebook, kernel, screenshots, name, index):
    view = explorer(notebook.page, index)
    count = kernel.evaluate(f"len({name}.session.task.detections[0]['scores'])")
    assert count >= 2, "the scene should hold several detections"
    boxes = view.get_by_test_id("cw-box")
    notebook.page.wait_for_function(
        "([i, n]) => document.querySelectorAll('.cw-explorer')[i].querySelectorAll('[data-testid=cw-box]').length >= n",
        arg=[index, count],
        timeout=30_000,
    )
    assert boxes.count() == count
    assert view.locator(".cw-detection.cw-chosen").count() == count, "by default every detection is explained"
    # the smallest box: drawn last, on top of any box it overlaps
    pick = kernel.evaluate(
        f"int(np.argmin([(b[2] - b[0]) * (b[3] - b[1]) for b in {name}.session.task.detections[0]['boxes']]))"
    )
    label = kernel.evaluate(f"{name}.session.task.box_text(0, {pick})")
    assert label.split(": ", 1)[1] in view.get_by_test_id("cw-marks").text_content()
    assert_drawn(canvas_summary(view, "[data-testid=cw-overlay-canvas]"), "detector overlay")
    before = digest(view)
    view.locator(f"[data-testid=cw-box][data-index='{pick}']").click()
    wait_for_text(view, "cw-status", label)
    assert kernel.wait_for(f"{name}.state.box", pick) == pick
    wait_for_new_pixels(view, before)
    assert view.locator(".cw-detection.cw-chosen").count() == 1
    assert view.locator(".cw-detection.cw-chosen [data-testid=cw-box]").get_attribute("data-index") == str(pick)
    assert kernel.evaluate(f"{name}.overlay.error") == ""
    if name == "detection":
        snapshot(view, screenshots, "detection")


def test_dragging_a_rectangle_restricts_the_segmented_region(notebook, kernel, screenshots):
    view = explorer(notebook.page, 1)
    assert view.get_by_test_id("cw-outline").count() >= 1, "the predicted region is outlined"
    x1, y1, x2, y2 = kernel.evaluate(
        "(lambda m: (int(np.nonzero(m.any(0))[0].min()), int(np.nonzero(m.any(1))[0].min()), int(np.nonzero(m.any(0))[0].max()) + 1, "
        "int(np.nonzero(m.any(1))[0].max()) + 1))(segmentation.session.task.predicted[0] == segmentation.session.task.default_class(0))"
    )
    right = (x1 + x2) / 2 + 1  # the left half of the region
    before = digest(view)
    placed = view.get_by_test_id("cw-overlay-canvas").bounding_box()
    page = notebook.page
    page.mouse.move(*to_screen(view, x1 - 1, y1 - 1, 224))
    page.mouse.down()
    page.mouse.move(*to_screen(view, (x1 + right) / 2, (y1 + y2) / 2, 224), steps=4)
    assert view.locator("[data-testid=cw-region].cw-dragging").count() == 1, "the rectangle is drawn while dragging"
    page.mouse.move(*to_screen(view, right, y2 + 1, 224), steps=4)
    page.mouse.up()
    wait_for_text(view, "cw-status", "in the rectangle")
    region = kernel.evaluate("segmentation.state.region")
    assert (
        region is not None
        and abs(region[0] - (x1 - 1)) <= 2
        and abs(region[2] - right) <= 2
        and abs(region[3] - (y2 + 1)) <= 2
    )
    wait_for_new_pixels(view, before)
    assert view.locator("[data-testid=cw-region]:not(.cw-dragging)").count() == 1
    snapshot(view, screenshots, "segmentation")
    clear = view.get_by_test_id("cw-clear-region")
    assert clear.is_visible()
    assert view.get_by_test_id("cw-overlay-canvas").bounding_box()["y"] == placed["y"], (
        "the Clear rectangle button pushed the picture down"
    )
    clear.click()
    assert kernel.wait_for("segmentation.state.region", None) is None
    notebook.page.wait_for_function(
        "() => !document.querySelectorAll('.cw-explorer')[1].querySelector('[data-testid=cw-region]')", timeout=10_000
    )


def test_picking_a_concept_image_explains_similarity_to_it(notebook, kernel, screenshots):
    view = explorer(notebook.page, 2)
    wait_for_text(view, "cw-status", "similarity to chelsea")
    before = digest(view)
    label = notebook.page.locator(".cw-field-label", has_text=re.compile("^Target$"))
    target = view.locator("label.cw-dropdown", has=label).locator("select")
    option = kernel.evaluate("next(label for label, value in similarity.controls.target.options if value == 1)")
    target.select_option(label=option)
    wait_for_text(view, "cw-status", "similarity to coffee")
    assert kernel.wait_for("similarity.state.concept", 1) == 1
    wait_for_new_pixels(view, before)
    captions = kernel.evaluate("similarity.gallery.captions")
    assert captions[1] == "cos 1.00 · coffee" and all(caption.startswith("cos ") for caption in captions)
    snapshot(view, screenshots, "similarity")
    assert not [e for e in notebook.page.console_errors if "cw-" in e or "anywidget" in e]


LABEL_BOXES = """
(view) => [...view.querySelectorAll('.cw-box-label')].map((node) => {
  const r = node.getBoundingClientRect();
  return [r.left, r.top, r.right, r.bottom];
})
"""


def test_the_threshold_slider_changes_the_boxes_and_labels_keep_their_size_and_place(notebook, kernel):
    view = explorer(notebook.page, 0)
    slider = view.locator("label.cw-slider-field input[type=range]")
    assert view.locator("label.cw-slider-field .cw-field-label").text_content() == "Score threshold"
    kernel.run("detection.set(image=1)")  # its boxes score from 0.08 to 1
    wanted = kernel.evaluate("int((detection.session.task._outputs[1]['scores'] >= 0.05).sum())")
    slider.evaluate("(node) => { node.value = '0.05'; node.dispatchEvent(new Event('change', { bubbles: true })); }")
    assert kernel.wait_for("detection.session.task.threshold", 0.05) == 0.05
    notebook.page.wait_for_function(
        "([n]) => document.querySelectorAll('.cw-explorer')[0].querySelectorAll('[data-testid=cw-box]').length === n",
        arg=[wanted],
        timeout=30_000,
    )
    labels = view.evaluate(LABEL_BOXES)
    assert labels, "no label drawn"
    for a in range(len(labels)):  # no two labels cover each other
        for b in range(a + 1, len(labels)):
            r, s = labels[a], labels[b]
            assert not (r[0] < s[2] - 1 and s[0] < r[2] - 1 and r[1] < s[3] - 1 and s[1] < r[3] - 1), (r, s)
    height = labels[0][3] - labels[0][1]
    canvas = view.get_by_test_id("cw-overlay-canvas").bounding_box()
    notebook.page.mouse.move(canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2)
    for _ in range(4):
        notebook.page.mouse.wheel(0, -100)  # zoom in about 2.4x
    notebook.page.wait_for_timeout(300)
    zoomed = view.evaluate(LABEL_BOXES)
    assert zoomed and abs((zoomed[0][3] - zoomed[0][1]) - height) <= 2, "labels grew with the zoom"
    view.get_by_test_id("cw-zoom-reset").click()
    kernel.run("detection.set_score_threshold(0.5)\ndetection.set(image=0)")


def test_the_suggested_layer_is_in_sight_in_the_tree(notebook):
    """A detector's tree is long and its suggested layer deep: the box scrolls it into sight (the page
    does not move) once the notebook has laid the output out (it may wait until it is on screen)."""
    in_sight = """(view) => {
      const rows = view.querySelector('.cw-tree-rows').getBoundingClientRect();
      const chosen = view.querySelector('[data-testid=cw-layer-node][aria-selected=true]').getBoundingClientRect();
      return rows.height > 0 && rows.top - 1 <= chosen.top && chosen.bottom <= rows.bottom + 1;
    }"""
    for index in range(4):
        view = explorer(notebook.page, index)
        deadline = time.monotonic() + 5
        while not view.evaluate(in_sight):
            assert time.monotonic() < deadline, f"explorer {index}: the chosen layer is not in sight in the tree"
            notebook.page.wait_for_timeout(100)


def test_the_method_menu_prices_a_method_from_what_ran(notebook, kernel):
    """The detector's gradient methods were priced from a forward timed once (about 7 s for 30 ms of
    work): the menu now says what the last fresh computation took."""
    view = explorer(notebook.page, 0)
    kernel.run(
        "import time\ndetection.session.cache.clear()\n_started = time.perf_counter()\n"
        "detection.session.compute_maps(detection.state)\n_took = time.perf_counter() - _started\n"
        "detection.set(method='gradcam')\ndetection.set(method='layercam')"
    )
    took, estimate = kernel.evaluate("_took"), kernel.evaluate("detection.session.estimate('layercam').seconds")
    assert estimate == pytest.approx(took, rel=0.5), (estimate, took)
    text = kernel.evaluate(
        "__import__('camwidgets.widgets.controls', fromlist=['x']).duration_text(detection.session.estimate('gradcam').seconds)"
    )
    label = view.locator("label.cw-dropdown select option", has_text=re.compile(r"^GradCAM — ")).first.text_content()
    assert label.endswith(f"≈ {text}"), label
