"""Volumes, clips and signals in the explorer, in real JupyterLab and Chromium, on the models trained
here and read from real files (NIfTI, mp4, npy): scrubbing happens in the browser from the buffers
sent once (the canvas changes, the kernel is only told where the view is), a method change goes
through the kernel."""

from __future__ import annotations

import re
import time

import pytest

from .canvas import assert_drawn, canvas_summary
from .explorers import explorer, explorers_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    "import numpy as np, torch, cv2, nibabel, tempfile, os\n"
    "import camwidgets as cw\n"
    "from camwidgets.data.solids import make_solids\n"
    "from camwidgets.data.motion import make_motion_clips\n"
    "from camwidgets.data.motifs import make_motif_signals\n"
    "from camwidgets.data.spacetime_models import load_solids_cnn, load_motion_cnn, load_motifs_cnn\n"
    "torch.set_num_threads(1)\n"
    "folder = tempfile.mkdtemp()\n"
    "volumes = []\n"
    "for i, volume in enumerate(make_solids(2, seed=21).volumes[:, 0]):\n"
    "    volumes.append(os.path.join(folder, f'scan{i}.nii.gz'))\n"
    "    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), volumes[-1])\n"
    "clips = []\n"
    "for i, clip in enumerate(make_motion_clips(2, seed=21).clips):\n"
    "    clips.append(os.path.join(folder, f'clip{i}.avi'))\n"
    "    writer = cv2.VideoWriter(clips[-1], cv2.VideoWriter_fourcc(*'MJPG'), 4, (32, 32))\n"
    "    for frame in (clip.transpose(1, 2, 3, 0) * 255).round().astype(np.uint8): writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))\n"
    "    writer.release()\n"
    "signals = []\n"
    "for i, signal in enumerate(make_motif_signals(2, seed=21).signals):\n"
    "    signals.append(os.path.join(folder, f'signal{i}.npy'))\n"
    "    np.save(signals[-1], signal)",
    "solids, solid_names = load_solids_cnn()\nvolume = cw.CAMExplorer(solids, volumes, labels=solid_names, task='multilabel')\nvolume",
    "motion, motion_names = load_motion_cnn()\nclip = cw.CAMExplorer(motion, clips, labels=motion_names, input_kind='clip')\nclip",
    "motifs, motif_names = load_motifs_cnn()\nsignal = cw.CAMExplorer(motifs, signals, labels=motif_names)\nsignal",
]


@pytest.fixture(scope="module")
def notebook(lab):
    yield from explorers_notebook(lab, "spacetime_explorers.ipynb", CELLS, 3)


@pytest.fixture(scope="module")
def kernel(lab, notebook):
    return lab.probe(notebook)


def digest(view, testid: str) -> int:
    return canvas_summary(view, f"[data-testid={testid}]")["digest"]


def wait_until(check, what: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_volume_is_scrubbed_slice_by_slice_in_the_browser(notebook, kernel, screenshots):
    view = explorer(notebook.page, 0)
    assert kernel.evaluate("volume.session.kind") == "volume"
    for name in ("axial", "coronal", "sagittal"):
        assert_drawn(canvas_summary(view, f"[data-testid=cw-slice-{name}]"), f"{name} slice")
    assert view.get_by_test_id("cw-slice-label-axial").text_content() == "Axial 17/32"
    sends = kernel.evaluate("volume.overlay.revision")
    before = digest(view, "cw-slice-axial")
    slider = view.get_by_test_id("cw-slider-axial")
    slider.focus()
    for _ in range(4):
        notebook.page.keyboard.press("ArrowRight")
    wait_until(
        lambda: view.get_by_test_id("cw-slice-label-axial").text_content() == "Axial 21/32",
        "the axial slice did not move",
    )
    assert digest(view, "cw-slice-axial") != before
    assert kernel.wait_for("volume.overlay.position", [20, 16, 16]) == [20, 16, 16]
    assert kernel.evaluate("volume.overlay.revision") == sends, "a slice change needed no new map from the kernel"
    # a click on the coronal view (rows: depth, columns: width) moves the crosshair there
    box = view.get_by_test_id("cw-slice-coronal").bounding_box()
    notebook.page.mouse.click(box["x"] + box["width"] * 8.5 / 32, box["y"] + box["height"] * 10.5 / 32)
    assert kernel.wait_for("volume.overlay.position", [10, 16, 8]) == [10, 16, 8]
    view.get_by_test_id("cw-mip").check()
    assert kernel.wait_for("volume.overlay.projection", "mip") == "mip"
    assert "maximum over 32" in view.get_by_test_id("cw-slice-label-sagittal").text_content()
    level = view.get_by_test_id("cw-window-level")
    level.fill("2.5")
    level.press("Enter")
    assert kernel.wait_for("volume.overlay.window[0]", 2.5) == 2.5
    method = view.locator(
        "label.cw-dropdown", has=notebook.page.locator(".cw-field-label", has_text=re.compile("^Method$"))
    ).locator("select")
    before = digest(view, "cw-slice-axial")
    method.select_option(
        label=kernel.evaluate("next(label for label, value in volume.controls.method.options if value == 'layercam')")
    )
    wait_until(lambda: "LayerCAM" in view.get_by_test_id("cw-status").text_content(), "the method did not change", 60)
    wait_until(lambda: digest(view, "cw-slice-axial") != before, "the new map was not drawn")
    assert kernel.evaluate("volume.overlay.error") == ""
    view.locator(".cw-right").screenshot(path=str(screenshots / "explorer-volume.png"))


def test_a_clip_shows_where_and_when_frame_by_frame(notebook, kernel, screenshots):
    view = explorer(notebook.page, 1)
    assert kernel.evaluate("clip.session.kind") == "clip"
    assert view.get_by_test_id("cw-strip-frame").count() == 8
    assert_drawn(canvas_summary(view, "[data-testid=cw-frame]"), "the frame")
    energies = [float(bar.get_attribute("data-energy")) for bar in view.get_by_test_id("cw-energy-bar").all()]
    expected = kernel.evaluate(
        "(lambda m: (m.sum((1, 2)) / m.sum((1, 2)).max()).tolist())(clip.overlay.levels().astype(float))"
    )
    assert energies == pytest.approx(expected, abs=1e-3)
    loudest = max(range(8), key=energies.__getitem__)
    before = digest(view, "cw-frame")
    view.get_by_test_id("cw-energy-bar").nth(loudest).click()
    assert view.get_by_test_id("cw-frame-label").text_content() == f"Frame {loudest + 1}/8"
    assert kernel.wait_for("clip.overlay.position", [loudest]) == [loudest]
    if loudest != 4:
        assert digest(view, "cw-frame") != before
    view.get_by_test_id("cw-play").click()
    wait_until(
        lambda: view.get_by_test_id("cw-frame-label").text_content() != f"Frame {loudest + 1}/8", "play did not advance"
    )
    view.get_by_test_id("cw-play").click()
    assert view.get_by_test_id("cw-play").text_content() == "Play"
    view.locator(".cw-right").screenshot(path=str(screenshots / "explorer-clip.png"))


def test_a_signal_is_zoomed_by_dragging(notebook, kernel, screenshots):
    view = explorer(notebook.page, 2)
    plot = view.get_by_test_id("cw-signal")
    assert_drawn(canvas_summary(view, "[data-testid=cw-band]"), "the map band")
    assert view.get_by_test_id("cw-signal-range").text_content() == "Samples 0–255 of 256"
    view.locator(".cw-right").screenshot(path=str(screenshots / "explorer-signal.png"))
    box = plot.bounding_box()
    page = notebook.page
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    assert kernel.wait_for("signal.overlay.position[0] > 0", True)
    start, end = kernel.evaluate("signal.overlay.position")
    assert 60 <= start <= 68 and 124 <= end <= 132, (start, end)
    assert view.get_by_test_id("cw-signal-range").text_content() == f"Samples {start}–{end - 1} of 256"
    view.get_by_test_id("cw-signal-reset").click()
    assert kernel.wait_for("signal.overlay.position", [0, 256]) == [0, 256]
    assert not [e for e in notebook.page.console_errors if "cw-" in e or "anywidget" in e]
