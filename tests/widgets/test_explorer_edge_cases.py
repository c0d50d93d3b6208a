"""Defects of the explorer a user could hit, each pinned by a test that fails without its fix: markup in
text, exports as a set, panels blocking the kernel, traits the browser must not write, orphan jobs,
odd images, model dtypes, unbounded selections, dict outputs and bad preprocessing."""

from __future__ import annotations

import json
import math
import threading

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from camwidgets import CAMExplorer
from camwidgets.core.image_sets import load_images
from camwidgets.engine.methods.registry import METHODS
from tests.conftest import MARKUP, MarkedUp, Small, hook_count, seeded

from .conftest import replies, send_custom, send_update, slow_test_method, state_updates

CPU = torch.device("cpu")


def no_markup(text: str) -> bool:
    return "<img" not in text and "&lt;img" in text


# -- 1. text from labels, module names, errors and paths is escaped --------------------------------------


def test_labels_module_names_errors_and_paths_reach_the_page_escaped(tmp_path):
    model = seeded(MarkedUp)
    labels = [MARKUP, "b", "c"]
    explorer = CAMExplorer(model, torch.randn(2, 3, 16, 16), labels=labels, target_layers=[MARKUP])
    explorer.set(target=0)
    panels = explorer.panels
    panels.guided.compute()
    assert no_markup(panels.guided.message.value)  # 'for GradCAM · <layer> · <label>'
    panels.concepts.compute()
    assert no_markup(panels.concepts.message.value)
    panels.metrics.methods.value, panels.metrics.layers.value = ("gradcam",), (MARKUP,)
    panels.metrics.start()
    assert explorer.wait(60) and no_markup(panels.metrics.table.value)
    panels.export.path.value = str(tmp_path / MARKUP)
    panels.export.save()
    assert no_markup(panels.export.message.value) and "saved" in panels.export.message.value
    (tmp_path / "plain").write_text("a file, not a folder")
    panels.export.path.value = str(tmp_path / "plain" / MARKUP / "view")  # the OS error names the path
    panels.export.save()
    assert "cw-error" in panels.export.message.value and no_markup(panels.export.message.value)

    def broken(*args, **kwargs):
        raise RuntimeError(MARKUP)

    explorer.session.model.forward = broken  # the guided view's own forward fails with markup in its message
    panels.guided.compute()
    assert "RuntimeError" in panels.guided.message.value and no_markup(panels.guided.message.value)


# -- 3. exports are written as a set ----------------------------------------------------------------------


def test_concurrent_exports_to_one_name_never_mix_their_files(tiny_model, tiny_images, tmp_path):
    explorers = [CAMExplorer(tiny_model, tiny_images), CAMExplorer(tiny_model, tiny_images)]
    explorers[1].set(method="eigencam", image=1)
    stem = tmp_path / "shared"
    for trial in range(15):
        start = threading.Barrier(2)

        def export(explorer, start=start):
            start.wait()
            explorer.export(stem)

        threads = [threading.Thread(target=export, args=(e,)) for e in explorers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        manifest = json.loads(stem.with_suffix(".json").read_text())
        owner = explorers[0] if manifest["method"] == "GradCAM" else explorers[1]
        with np.load(stem.with_suffix(".npz")) as saved:
            np.testing.assert_array_equal(saved["map"], owner.result.maps[owner.state.image], err_msg=f"trial {trial}")
        png = cv2.cvtColor(cv2.imread(str(stem.with_suffix(".png"))), cv2.COLOR_BGR2RGB)
        assert png.shape[:2] == owner.result.levels.shape[1:]
        np.testing.assert_array_equal(png, owner.view_picture())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.json", "shared.npz", "shared.png"]


def test_export_stems_get_a_clear_answer(explorer, tmp_path):
    for stem in ("", ".", "  "):
        with pytest.raises(ValueError, match="needs a file name"):
            explorer.export(stem)
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="is a folder; pass a file name inside it"):
        explorer.export(tmp_path / "folder")
    paths = explorer.export(tmp_path / "x.PNG")
    assert sorted(p.name for p in paths.values()) == ["x.json", "x.npz", "x.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "x.json", "x.npz", "x.png"]


# -- 4 and 7. one job slot: panels never block the kernel, and no job is orphaned ---------------------------


@pytest.fixture
def blocking_method():
    """Registers 'blocking': a slow method whose every step waits until released (cancellable at each step)."""
    started, release = threading.Event(), threading.Event()
    METHODS["blocking"] = slow_test_method("blocking", "BlockingCAM", 5000, started, release, stop_when_released=True)
    yield started, release
    release.set()
    METHODS.pop("blocking", None)


def _returns_quickly(action, seconds: float = 5.0) -> bool:
    done = threading.Event()
    thread = threading.Thread(target=lambda: (action(), done.set()), daemon=True)
    thread.start()
    return done.wait(seconds)


@pytest.mark.parametrize("panel", ["guided", "concepts", "compare"])
def test_panel_buttons_never_block_the_kernel_during_a_slow_method(panel, blocking_method, tiny_model, tiny_images):
    started, _ = blocking_method
    explorer = CAMExplorer(tiny_model, tiny_images)
    shown, state = explorer.overlay.heatmap, explorer.state
    explorer.set(method="blocking")
    assert started.wait(10) and explorer.overlay.busy
    view = getattr(explorer.panels, panel)
    assert _returns_quickly(view.button.click), "the button waited for the slow method"
    assert explorer.wait(20) and not explorer.overlay.busy
    assert explorer.state == state and explorer.overlay.heatmap == shown  # the slow method was superseded
    if panel == "guided":
        assert all(image.value for image in view.images)
    elif panel == "concepts":
        assert view.picture.value and "concepts at head_conv" in view.message.value
    else:
        assert len(view.grid.item_keys) == len(view.methods.value) * 2
    assert hook_count(tiny_model) == 0


def test_cancel_reaches_a_panel_job(blocking_method, tiny_model, tiny_images, monkeypatch):
    started, _ = blocking_method
    explorer = CAMExplorer(tiny_model, tiny_images)
    from camwidgets.engine import factorization

    real = factorization.deep_feature_factorization

    def slow(*args, **kwargs):  # an NMF that would take minutes, one iteration each 50 ms
        return real(*args, **{**kwargs, "iterations": 100000, "tolerance": 0.0})

    monkeypatch.setattr("camwidgets.cams.factorization.deep_feature_factorization", slow)
    explorer.panels.concepts.button.click()
    send_custom(explorer.overlay, {"type": "cancel", "id": 5})
    assert explorer.wait(20)
    assert "cancelled" in explorer.panels.concepts.message.value and not explorer.overlay.busy
    assert replies(explorer.overlay, "cancel")[-1]["ok"] is True


def test_two_threads_starting_slow_methods_leave_one_consistent_view(blocking_method, tiny_model, tiny_images):
    started, release = blocking_method
    explorer = CAMExplorer(tiny_model, tiny_images)
    for trial in range(4):
        release.clear()
        start = threading.Barrier(2)
        changes = [{"method": "blocking", "image": 0}, {"method": "blocking", "image": 1, "normalise": "batch"}]

        def change(settings, start=start):
            start.wait()
            explorer.set(**settings)

        threads = [threading.Thread(target=change, args=(c,)) for c in changes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        release.set()
        assert explorer.wait(20)
        assert not explorer.jobs.running and not explorer.overlay.busy
        state = explorer.state
        assert state.method == "blocking", f"trial {trial}"
        assert explorer.overlay.status == explorer.status_text(state)
        assert explorer.overlay.heatmap == explorer.result.levels[state.image].tobytes()
        assert explorer.overlay.progress_label == ""  # not 'cancelled' over a map that arrived after all
        explorer.set(method="gradcam")


def test_cancel_cancels_superseded_jobs_too(tiny_model, tiny_images):
    explorer = CAMExplorer(tiny_model, tiny_images)
    stop = threading.Event()
    ended = []

    def stubborn(progress):  # notices the cancel only at its progress calls
        for _ in range(400):
            if progress(0, 1, "") is False:
                ended.append("cancelled")
                return
            stop.wait(0.05)
        ended.append("ran out")

    first = explorer.background("first", stubborn, lambda result: None, lambda error: None)
    second = explorer.background("second", stubborn, lambda result: None, lambda error: None)
    assert first.superseded and not second.superseded
    explorer.cancel()
    assert explorer.wait(10) and ended == ["cancelled", "cancelled"]


# -- 6. traits the kernel owns -------------------------------------------------------------------------------


def test_the_browser_cannot_overwrite_kernel_owned_traits(explorer):
    overlay, tree, sweep = explorer.overlay, explorer.tree, explorer.sweep

    def owned():
        return (
            overlay.photo,
            overlay.heatmap,
            overlay.width,
            overlay.height,
            overlay.value_range,
            overlay.status,
            overlay.colormap_tables,
        )

    before = owned()
    send_update(overlay, width=-5, height=3, value_range=[math.nan, 1.0], busy=True, status="pwned", error="x")
    send_update(overlay, buffers={"photo": b"\x00" * 12, "colormap_tables": b"\x01"})
    assert owned() == before
    assert not overlay.busy and overlay.error == ""
    restored = state_updates(overlay, "width")[-1][0]["state"]
    assert restored["width"] == overlay.width  # the browser's copy was sent back
    keys, nodes = list(sweep.item_keys), list(tree.nodes)
    send_update(sweep, item_keys=["evil"], selected="evil")
    send_update(tree, nodes=[], suggested="fc", selected=["fc"])
    assert (
        sweep.item_keys == keys
        and tree.nodes == nodes
        and tree.selected == ["head_conv"]
        and tree.suggested == "head_conv"
    )
    send_update(overlay, opacity=0.25, mode="heatmap")  # what the browser does own still works
    assert (overlay.opacity, overlay.mode) == (0.25, "heatmap")
    send_update(overlay, opacity=math.nan)
    assert overlay.opacity == 0.25 and state_updates(overlay, "opacity")[-1][0]["state"]["opacity"] == 0.25
    send_custom(sweep, {"type": "pick", "id": 1, "key": keys[1]})  # later selections still work
    assert explorer.state.layers == (keys[1],) and explorer.overlay.error == ""


def test_a_refused_nested_selection_is_answered_with_an_error(explorer):
    send_custom(explorer.tree, {"type": "select", "id": 8, "paths": ["stem", "stem.2"]})
    reply = replies(explorer.tree, "select")[-1]
    assert reply["id"] == 8 and "ok" not in reply and "'stem' contains 'stem.2'" in reply["error"]
    assert explorer.tree.selected == ["head_conv"] and explorer.state.layers == ("head_conv",)


# -- 12. selections are deduplicated ----------------------------------------------------------------------------


def test_compare_counts_each_method_once(explorer, tiny_model):
    compare = explorer.panels.compare
    names = [value for _, value in compare.methods.options]
    send_update(compare.methods, index=[names.index("gradcam")] * 400 + [names.index("layercam")] * 3)
    compare.compute()
    assert compare.grid.row_labels == ["GradCAM", "LayerCAM"] and len(compare.grid.item_keys) == 4
    columns, maps = explorer.session.compare(explorer.state, ["gradcam"] * 50)
    assert maps.shape[0] == 1


# -- 5. images are never silently wrong -------------------------------------------------------------------------


def test_16_bit_and_out_of_range_images():
    rng = np.random.default_rng(0)
    eight = rng.integers(0, 256, (20, 20, 3)).astype(np.uint8)
    sixteen = eight.astype(np.uint16) * 257  # the same picture in 16 bits
    one = load_images([eight], None, CPU, False)
    assert torch.equal(load_images([sixteen], None, CPU, False).batch, one.batch)
    assert torch.equal(load_images([eight.astype(np.int32)], None, CPU, False).batch, one.batch)
    with pytest.raises(ValueError, match=r"must hold values from 0 to 255; got -3 to 300"):
        load_images([np.array([[[-3, 0, 300]]], dtype=np.int32).repeat(4, 0).repeat(4, 1)], None, CPU, False)
    with pytest.raises(ValueError, match="boolean array is a mask"):
        load_images([np.ones((4, 4, 3), bool)], None, CPU, False)
    grey16 = Image.fromarray(np.ascontiguousarray(sixteen[:, :, 0]))
    assert grey16.mode == "I;16"
    from_pil = load_images([grey16], None, CPU, False).photos[0]
    expected = load_images([eight[:, :, 0]], None, CPU, False).photos[0]
    np.testing.assert_array_equal(from_pil, expected)  # not all white


def test_pil_images_are_turned_upright_like_files(tmp_path):
    photo = np.zeros((30, 60, 3), np.uint8)
    photo[:, :20] = 255  # a white band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    path = tmp_path / "rotated.jpg"
    Image.fromarray(photo).save(path, exif=exif, quality=95)
    by_path = load_images([path], None, CPU, False).photos[0]
    opened = Image.open(path)
    by_pil = load_images([opened], None, CPU, False).photos[0]
    np.testing.assert_array_equal(by_pil, by_path)
    assert opened.getexif()[0x0112] == 6  # the caller's image is not modified


def test_empty_files_and_unequal_preprocessing_are_explained(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="is an empty file"):
        load_images([empty], None, CPU, False)
    sizes = iter([(32, 32), (40, 32)])

    def uneven(image):
        return torch.zeros(3, *next(sizes))

    with pytest.raises(
        ValueError,
        match=r"preprocess must turn every image into a \(3, H, W\) tensor of one size; got \(3, 32, 32\), \(3, 40, 32\)",
    ):
        load_images([np.zeros((8, 8, 3), np.uint8)] * 2, uneven, CPU, False)


# -- 8 and 13. model dtypes and dict outputs in the explorer -----------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16], ids=["float64", "bfloat16"])
def test_the_explorer_works_on_the_models_dtype(dtype, tiny_images):
    model = seeded(Small).to(dtype)
    explorer = CAMExplorer(model, tiny_images)
    assert explorer.session.images.batch.dtype == dtype and explorer.result.maps.dtype == np.float32
    for method in ("layercam", "fullgrad", "eigencam"):
        explorer.set(method=method)
        assert explorer.overlay.error == "" and explorer.state.method == method
    explorer.panels.guided.compute()
    explorer.panels.concepts.compute()
    assert all(image.value for image in explorer.panels.guided.images)
    assert all(":" in caption for caption in explorer.panels.concepts.grid.captions)


class DictOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = seeded(Small)

    def forward(self, x):
        return {"scores": self.body(x), "features": x.mean()}


def test_a_dict_output_model_is_explored_with_output_selector(tiny_images):
    model = DictOutput().eval()
    with pytest.raises(
        ValueError,
        match=r"the model returns a dict \(its keys: scores, features\), and which part holds the class scores is not clear; pass CAMExplorer\(\.\.\., output_selector=\.\.\.\)",
    ):
        CAMExplorer(model, tiny_images)
    explorer = CAMExplorer(model, tiny_images, output_selector="scores")
    assert explorer.state.layers == ("body.head_conv",) and explorer.overlay.error == ""
    reference = CAMExplorer(model.body, tiny_images)
    np.testing.assert_allclose(explorer.result.maps, reference.result.maps, atol=1e-6)
    explorer.panels.guided.compute()
    explorer.panels.compare.compute()
    assert all(image.value for image in explorer.panels.guided.images) and explorer.panels.compare.grid.message == ""
