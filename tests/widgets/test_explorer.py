"""The explorer's behaviour: cache reuse, the one-pass layer sweep, errors, cancellation, export,
and the model left exactly as it was."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from camwidgets import CAMExplorer
from camwidgets.core.colormaps import compose_view
from camwidgets.engine.maps import finish_maps
from camwidgets.engine.methods.registry import METHODS, MethodSpec
from camwidgets.engine.progress import Progress
from tests.conftest import CountingForward, Small, assert_unchanged, hook_count, mixed_state, seeded, snapshot

from .conftest import replies, send_custom, send_update, slow_test_method, state_updates

PER_LAYER_GRADIENT = [name for name, spec in METHODS.items() if spec.family == "gradient" and spec.compute is not None]


def test_method_and_eigen_smooth_changes_reuse_the_cached_capture(explorer, tiny_model):
    hits = explorer.session.cache.hits
    with CountingForward(tiny_model) as forwards:
        for method in PER_LAYER_GRADIENT + ["eigencam"]:
            explorer.set(method=method)
            assert explorer.state.method == method and not explorer.overlay.error
        send_update(explorer.controls.eigen_smooth, value=True)
        send_update(explorer.controls.normalise, index=2)
    assert forwards.count == 0
    # every change but the first (gradcam, already shown) is served from the cache
    assert explorer.session.cache.hits - hits == len(PER_LAYER_GRADIENT) - 1 + 3
    assert explorer.state.eigen_smooth and explorer.state.normalise == "none"


def test_method_maps_match_the_engine(explorer, tiny_model, tiny_images):
    from camwidgets import LayerCAM

    explorer.set(method="layercam", target=2)
    expected = LayerCAM(model=tiny_model, target_layers=["head_conv"])(
        tiny_images, [__import__("camwidgets").ClassifierOutputTarget(2)] * 2
    )
    np.testing.assert_allclose(explorer.result.maps, expected, atol=1e-6)


def test_layer_sweep_is_one_forward_and_one_backward(explorer, tiny_model, monkeypatch):
    calls = []
    grad = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: calls.append(1) or grad(*a, **k))
    stages = explorer.session.tree.stages
    with CountingForward(tiny_model) as forwards:
        paths, levels = explorer.session.sweep(explorer.state)
    assert (forwards.count, len(calls)) == (1, 1)
    assert paths == stages == ["stem", "head_conv", "act", "drop"]
    assert levels.shape == (4, 64, 64) and levels.dtype == np.uint8
    assert explorer.sweep.item_keys == stages and len(explorer.sweep.pixels) == 4 * 64 * 64 * 3
    send_custom(explorer.sweep, {"type": "pick", "id": 5, "key": "stem"})
    assert explorer.state.layers == ("stem",) and explorer.tree.selected == ["stem"]
    assert explorer.sweep.selected == "stem"


class Flaky(Small):
    """Small, whose forward raises while ``fail`` is set."""

    fail = False

    def forward(self, x):
        if self.fail:
            raise RuntimeError("the model failed on purpose")
        return super().forward(x)


def test_errors_are_shown_and_the_previous_view_stays():
    model = seeded(Flaky)
    explorer = CAMExplorer(model, torch.randn(2, 3, 32, 32))
    shown, state = explorer.overlay.heatmap, explorer.state
    model.fail = True
    send_custom(explorer.tree, {"type": "select", "id": 1, "paths": ["stem"]})  # needs a new forward
    assert (
        "failed on purpose" in explorer.overlay.error and "head_conv" not in explorer.overlay.error.split("failed")[1]
    )
    assert explorer.state == state and explorer.overlay.heatmap == shown
    assert explorer.tree.selected == ["head_conv"]  # the control went back to what is shown
    assert hook_count(model) == 0
    explorer.set(method="gradcam++")  # served from the cache: works while the model is broken
    assert explorer.state.method == "gradcam++" and explorer.overlay.error == ""
    model.fail = False
    send_custom(explorer.tree, {"type": "select", "id": 2, "paths": ["stem"]})
    assert explorer.state.layers == ("stem",) and explorer.overlay.error == ""


@pytest.fixture
def extra_method():
    """Registers test methods for the duration of a test: 'slowtest' (50 progress steps, waits on an
    event) and 'refusing' (raises: the method does not apply)."""
    started, release = threading.Event(), threading.Event()

    def refusing(call):
        raise ValueError("this method does not apply to this model")

    specs = [
        slow_test_method("slowtest", "SlowTestCAM", 50, started, release, stop_when_released=False),
        MethodSpec(
            name="refusing",
            class_name="RefusingCAM",
            family="gradient-free",
            needs_gradients=False,
            cost=1.0,
            summary="test only",
            run=refusing,
        ),
    ]
    for spec in specs:
        METHODS[spec.name] = spec
    yield started, release
    release.set()
    for spec in specs:
        METHODS.pop(spec.name, None)


def test_a_method_that_does_not_apply_is_reported(extra_method, tiny_model, tiny_images):
    explorer = CAMExplorer(tiny_model, tiny_images)
    shown = explorer.overlay.heatmap
    methods = [value for _, value in explorer.controls.method.options]
    send_update(explorer.controls.method, index=methods.index("refusing"))
    assert "does not apply" in explorer.overlay.error
    assert explorer.state.method == "gradcam" and explorer.controls.method.value == "gradcam"
    assert explorer.overlay.heatmap == shown


def test_slow_method_runs_in_the_background_and_cancel_keeps_the_previous_map(extra_method, tiny_model, tiny_images):
    started, _ = extra_method
    before = snapshot(tiny_model)
    explorer = CAMExplorer(tiny_model, tiny_images)
    assert any("slow" in label for label, value in explorer.controls.method.options if value == "slowtest")
    shown, state = explorer.overlay.heatmap, explorer.state
    explorer.set(method="slowtest")  # returns at once: the kernel keeps handling messages
    assert started.wait(10) and explorer.overlay.busy
    send_update(explorer.overlay, opacity=0.3)
    assert explorer.overlay.opacity == 0.3
    send_custom(explorer.overlay, {"type": "cancel", "id": 9})
    assert explorer.wait(10)
    assert replies(explorer.overlay, "cancel")[-1] == {"type": "cancel", "id": 9, "ok": True}
    assert explorer.state == state and explorer.overlay.heatmap == shown
    assert not explorer.overlay.busy and "cancelled" in explorer.overlay.progress_label
    assert explorer.controls.method.value == "gradcam"
    assert_unchanged(tiny_model, before)


def test_a_cancel_keeps_the_maps_that_finished_and_computes_the_others_when_chosen(
    extra_method, tiny_model, tiny_images
):
    """Cancel after the shown image's map arrived: that map stays shown (and current), only the
    running rest stops, the progress line says so; choosing an image left out computes it alone."""
    explorer = CAMExplorer(tiny_model, tiny_images)
    explorer.set(method="slowtest")
    deadline = time.monotonic() + 20
    while 0 not in explorer._partial:  # the shown image's map is done; the other image's is running
        assert time.monotonic() < deadline, "the first map never finished"
        time.sleep(0.01)
    kept = explorer._partial[0].copy()
    send_custom(explorer.overlay, {"type": "cancel", "id": 3})
    assert explorer.wait(10)
    assert explorer.state.method == "slowtest" and explorer.result.missing == (1,)
    np.testing.assert_array_equal(explorer.result.maps[0], kept)
    assert explorer.overlay.status.startswith("SlowTestCAM · ") and not explorer.overlay.stale
    label = explorer.overlay.progress_label
    assert "its maps of image 0 are kept" in label and "1 other image not computed" in label, label
    assert explorer.controls.method.value == "slowtest"
    extra_method[1].set()  # the next run goes quickly
    computed, compute_maps = [], explorer.session.compute_maps
    explorer.session.compute_maps = lambda state, images=None, progress=False: (
        computed.append(list(images or [])) or compute_maps(state, images, progress)
    )
    explorer.set(image=1)
    assert explorer.wait(20) and explorer.result.missing == () and explorer.state.image == 1
    assert computed == [[1]], "only the image left out is computed"
    np.testing.assert_array_equal(explorer.result.maps[0], kept)
    np.testing.assert_allclose(explorer.result.maps, explorer.session.compute(explorer.state).maps, atol=1e-6)


def test_slow_method_reports_progress_and_shows_its_result(extra_method, tiny_model, tiny_images):
    _, release = extra_method
    explorer = CAMExplorer(tiny_model, tiny_images)
    release.set()
    explorer.set(method="slowtest")
    assert explorer.wait(20)
    assert explorer.state.method == "slowtest" and explorer.overlay.status.startswith("SlowTestCAM · ")
    np.testing.assert_allclose(explorer.result.maps, explorer.session.compute(explorer.state).maps, atol=1e-6)
    fractions = [data["state"]["progress"] for data, _ in state_updates(explorer.overlay, "progress")]
    assert fractions[-1] == 1.0 and len(fractions) > 5
    labels = [data["state"]["progress_label"] for data, _ in state_updates(explorer.overlay, "progress_label")]
    during = [label for label in labels if "/50" in label and not label.endswith("50/50")]
    first = [label for label in during if label.startswith("GradCAM shown · SlowTestCAM for image 0 ")]
    rest = [
        label
        for label in during
        if label.startswith("SlowTestCAM for image 0 shown · SlowTestCAM for the other 1 image ")
    ]
    assert first and rest and len(first) + len(rest) == len(during) and all(" s left" in label for label in during), (
        labels
    )
    assert labels.index(first[0]) < labels.index(rest[0])


def test_progress_says_what_is_shown_what_is_coming_and_how_long_it_takes():
    from camwidgets.explorer.runs import progress_text

    assert progress_text("ScoreCAM", 0, 304, 0.0, None) == "ScoreCAM 0/304"
    assert progress_text("ScoreCAM", 29, 304, 9.5, "GradCAM") == "GradCAM shown · ScoreCAM 29/304 · about 90 s left"
    assert progress_text("SSCAM", 100, 5600, 30.0, None) == "SSCAM 100/5600 · about 28 min left"


@pytest.fixture
def gated_method():
    """Registers 'gated': a slow method whose first call returns at once and whose later calls wait
    (cancellably) for ``release``; its map is the channel mean. Yields (batch sizes called, release)."""
    batches, release = [], threading.Event()

    def run(call):
        batches.append(call.input_tensor.shape[0])
        capture = call.explainer.capture(call.input_tensor, call.targets, need_gradients=False)
        with Progress(10, "gated", call.progress) as progress:
            for _ in range(10):
                while len(batches) > 1 and not release.wait(0.02):
                    progress.advance(0)  # raises Cancelled once cancelled
                progress.advance()
        raw = [record.activation.mean(dim=1) for record in capture.records]
        return finish_maps(raw, capture.image_size, call.explainer.normalise, call.explainer.aggregate)

    METHODS["gated"] = MethodSpec(
        name="gated",
        class_name="GatedCAM",
        family="perturbation",
        needs_gradients=False,
        cost=100.0,
        summary="test only",
        run=run,
    )
    yield batches, release
    release.set()
    METHODS.pop("gated", None)


def _eventually(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_slow_method_shows_the_chosen_image_first_and_finishes_the_rest_meanwhile(
    gated_method, tiny_model, tiny_images
):
    batches, release = gated_method
    explorer = CAMExplorer(tiny_model, tiny_images)
    explorer.set(image=1)
    before = explorer.result
    explorer.set(method="gated")
    assert _eventually(lambda: explorer.overlay.status.startswith("GatedCAM · "))  # image 1 first, alone
    assert batches[0] == 1 and explorer.overlay.busy and not explorer.overlay.stale
    assert (
        explorer.state.method == "gradcam" and explorer.controls.method.value == "gated"
    )  # current only when all are done
    pending, first = replace(explorer.state, method="gated"), explorer.overlay.levels().copy()
    assert _eventually(
        lambda: explorer.overlay.progress_label.startswith(
            "GatedCAM for image 1 shown · GatedCAM for the other 1 image "
        )
    )
    explorer.set(image=0)  # not finished: its previous map, dimmed; the slow method goes on
    assert explorer.overlay.stale and explorer.overlay.busy and explorer.overlay.status.startswith("GradCAM · ")
    np.testing.assert_array_equal(explorer.overlay.levels(), before.levels[0])
    assert explorer.controls.method.value == "gated" and explorer.gallery.selected == "0"
    explorer.set(image=1)  # finished: shown at once
    assert not explorer.overlay.stale and explorer.overlay.status.startswith("GatedCAM · ")
    explorer.set(image=0)
    release.set()
    assert explorer.wait(20) and not explorer.overlay.busy and not explorer.overlay.stale
    assert explorer.state == replace(pending, image=0) and explorer.overlay.status.startswith("GatedCAM · ")
    np.testing.assert_array_equal(explorer.result.levels[1], first)  # what was shown first is the final map of image 1
    np.testing.assert_allclose(explorer.result.maps, explorer.session.compute(explorer.state).maps, atol=1e-6)
    assert hook_count(tiny_model) == 0


def test_cancel_after_the_first_image_shows_the_previous_view_at_the_image_chosen_last(
    gated_method, tiny_model, tiny_images
):
    explorer = CAMExplorer(tiny_model, tiny_images)
    before = explorer.result
    explorer.set(method="gated")
    assert _eventually(lambda: explorer.overlay.status.startswith("GatedCAM · ")), (
        explorer.overlay.status, explorer.overlay.error, explorer.overlay.progress_label, gated_method[0],
        [thread.name for thread in threading.enumerate()],
    )  # fmt: skip
    explorer.set(image=1)
    explorer.cancel()
    assert explorer.wait(20) and not explorer.overlay.busy and not explorer.overlay.stale
    assert explorer.state == replace(before.state, image=1) and explorer.controls.method.value == "gradcam"
    np.testing.assert_array_equal(explorer.overlay.levels(), before.levels[1])
    assert explorer.overlay.progress_label == "GatedCAM cancelled; the previous map is shown"  # the row stays to say so


def test_a_change_other_than_the_image_replaces_the_slow_method_and_starts_from_its_view(
    gated_method, tiny_model, tiny_images
):
    explorer = CAMExplorer(tiny_model, tiny_images)
    explorer.set(method="gated")
    assert _eventually(lambda: explorer.overlay.status.startswith("GatedCAM · "))
    explorer.set(method="layercam")  # from the slow method's view (image 0), not a stale one
    assert explorer.wait(20) and explorer.state.method == "layercam" and not explorer.overlay.busy
    assert explorer.overlay.status.startswith("LayerCAM · ") and explorer.overlay.progress_label == ""
    assert hook_count(tiny_model) == 0


def test_the_method_menu_prices_each_method_for_the_chosen_layers(explorer):
    from camwidgets.widgets.controls import duration_text

    labels = {value: label for label, value in explorer.controls.method.options}
    channels = {node.path: node.channels for node in explorer.session.tree.nodes}
    images = len(explorer.session.images)
    assert channels["head_conv"] == 8 and channels["fc"] == 0
    for name in ("gradcam", "scorecam", "ablationcam", "sscam", "smoothgradcampp"):
        estimate = explorer.session.estimate(name)
        expected = METHODS[name].forwards_per_image(8) * images
        assert estimate.passes == expected, name
        # seconds per pass: measured when the first GradCAM ran (gradient methods); for the perturbation methods
        # the masked forwards timed once, as they run (the model's folded copy); from the forward time otherwise
        kind = "gradient" if METHODS[name].needs_gradients else "perturbation"
        per_pass = explorer.session.pass_seconds[kind]
        assert estimate.seconds == pytest.approx(expected * per_pass), name
        assert f"{estimate.passes} pass" in labels[name] and duration_text(estimate.seconds) in labels[name]
    assert (
        explorer.session.estimate("scorecam").passes == (8 + 1) * images
    )  # one masked forward per channel, plus the capture
    assert explorer.session.estimate("sscam").passes == (8 * 35 + 1) * images  # and per noise sample
    # once ScoreCAM has run, its price is what it took (and so is the guess for the other perturbation methods)
    started = time.perf_counter()
    explorer.session.compute_maps(explorer.session.validate(method="scorecam"))
    took = time.perf_counter() - started
    assert explorer.session.estimate("scorecam").seconds == pytest.approx(took, rel=0.3)
    ablation = explorer.session.estimate("ablationcam")
    assert ablation.seconds == pytest.approx(ablation.passes * explorer.session.pass_seconds["perturbation"])
    explorer.set(layers=["stem", "head_conv"])  # more channels: the menu follows the layers
    relabelled = {value: label for label, value in explorer.controls.method.options}
    assert (
        f"{(8 + 8 + 1) * images} passes" in relabelled["scorecam"]
        and explorer.controls.method.value == explorer.state.method
    )
    assert [duration_text(s) for s in (0.2, 12.4, 95, 1680, 9000)] == ["<1 s", "12 s", "95 s", "28 min", "2.5 h"]


def test_a_new_change_cancels_a_running_slow_method(extra_method, tiny_model, tiny_images):
    started, _ = extra_method
    explorer = CAMExplorer(tiny_model, tiny_images)
    explorer.set(method="slowtest")
    assert started.wait(10)
    explorer.set(method="layercam")
    assert explorer.wait(10) and explorer.state.method == "layercam" and not explorer.overlay.busy
    assert hook_count(tiny_model) == 0


def test_export_writes_atomically_and_reloads(explorer, tmp_path, monkeypatch):
    explorer.set(method="gradcam++", target=1, image=1)
    send_update(explorer.overlay, colormap="inferno", opacity=0.7)
    paths = explorer.export(tmp_path / "view")
    with np.load(paths["npz"]) as saved:
        np.testing.assert_array_equal(saved["map"], explorer.result.maps[1])
        np.testing.assert_array_equal(saved["image"], explorer.session.images.photos[1])
        levels = saved["levels"]
    manifest = json.loads(paths["json"].read_text())
    assert manifest["method"] == "GradCAMPlusPlus" and manifest["layers"] == ["head_conv"] and manifest["target"] == 1
    assert manifest["image_index"] == 1 and manifest["view"] == {
        "mode": "overlay",
        "colormap": "inferno",
        "opacity": 0.7,
    }
    png = cv2.cvtColor(cv2.imread(str(paths["png"])), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(png, compose_view(explorer.session.images.photos[1], levels, "inferno", 0.7))
    original = {kind: path.read_bytes() for kind, path in paths.items()}
    explorer.set(method="layercam", image=0)  # a different view: every file would change

    def broken(handle, **arrays):
        handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        explorer.export(tmp_path / "view")
    assert {kind: path.read_bytes() for kind, path in paths.items()} == original  # the previous set is intact, PNG too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["view.json", "view.npz", "view.png"]  # no temp files left
    explorer.panels.export.path.value = str(tmp_path / "other")
    explorer.panels.export.save()
    assert "disk full" in explorer.panels.export.message.value


def test_model_is_left_as_it_was(extra_method, tiny_images):
    model = seeded(Small)
    mixed_state(model)
    before = snapshot(model)
    explorer = CAMExplorer(model, tiny_images)
    explorer.set(method="hirescam", layers=["stem", "head_conv"], eigen_smooth=True)
    explorer.set(aug_smooth=True)
    explorer.set(method="refusing")
    send_custom(explorer.tree, {"type": "select", "id": 1, "paths": ["fc"]})
    explorer.panels.compare.compute()
    explorer.panels.compare.by.value = "layers"
    explorer.panels.compare.compute()
    explorer.panels.guided.compute()
    explorer.panels.concepts.compute()
    explorer.set(method="slowtest")
    explorer.cancel()
    assert explorer.wait(10)
    assert explorer.panels.compare.grid.message == "" and len(explorer.panels.compare.grid.item_keys) == 8
    assert explorer.panels.guided.images[2].value and explorer.panels.concepts.picture.value
    assert all(":" in caption for caption in explorer.panels.concepts.grid.captions)  # top classes via the fc head
    assert_unchanged(model, before)


def _corner(png: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[2, 2]


def test_the_ranking_chart_is_drawn_in_the_notebook_theme_the_browser_reports(explorer):
    panel = explorer.panels.metrics
    panel.methods.value, panel.layers.value = ("gradcam", "layercam"), ("head_conv",)
    panel.start()
    assert panel.job.wait(60)
    assert _corner(panel.chart.value).min() > 200  # matplotlib's white
    send_update(explorer.overlay, theme="dark")  # what the front end says when JupyterLab turns dark
    assert explorer.theme == "dark" and _corner(panel.chart.value).max() < 40  # redrawn, dark background
    send_update(explorer.overlay, theme="sepia")  # not a theme: refused, nothing redrawn
    assert explorer.theme == "dark"
    send_update(explorer.overlay, theme="light")
    assert _corner(panel.chart.value).min() > 200


def test_metrics_panel_ranks_in_the_background_and_a_view_change_cancels_it(explorer, tiny_model, monkeypatch):
    from camwidgets.metrics import registry

    panel = explorer.panels.metrics
    panel.methods.value, panel.layers.value = ("gradcam", "layercam"), ("head_conv",)
    panel.start()
    assert panel.job.wait(60)
    assert sorted(row.method for row in panel.ranking.rows) == ["gradcam", "layercam"]
    assert bytes(panel.chart.value).startswith(b"\x89PNG") and "road (higher is better)" in panel.table.value
    assert panel.progress.value == 1.0

    started = threading.Event()

    def slow_metric(images, maps, targets, model):
        started.set()
        threading.Event().wait(0.2)
        return 0.5

    monkeypatch.setitem(registry.METRICS, "road", dataclasses.replace(registry.METRICS["road"], per_image=slow_metric))
    panel.methods.value = tuple(PER_LAYER_GRADIENT)
    panel.start()
    assert started.wait(10)
    explorer.set(method="xgradcam")  # the view wins: the ranking stops after the combination in hand
    assert not panel.job.running and "ranking cancelled" in panel.table.value
    assert explorer.state.method == "xgradcam" and hook_count(tiny_model) == 0


def test_a_layer_and_its_own_sublayer_are_refused_together(explorer):
    state, shown = explorer.state, explorer.overlay.heatmap
    send_custom(explorer.tree, {"type": "select", "id": 3, "paths": ["stem", "stem.2"]})
    assert "'stem' contains 'stem.2'" in explorer.overlay.error
    assert explorer.state == state and explorer.overlay.heatmap == shown and explorer.tree.selected == ["head_conv"]


def test_switching_images_does_not_stop_a_slow_method(extra_method, tiny_model, tiny_images):
    started, release = extra_method
    explorer = CAMExplorer(tiny_model, tiny_images)
    explorer.set(method="slowtest")
    assert started.wait(10) and explorer.overlay.busy
    explorer.set(image=1)  # the shown GradCAM map follows at once, dimmed; the slow method goes on
    assert explorer.overlay.status.startswith("GradCAM · ") and explorer.overlay.stale and explorer.overlay.busy
    assert explorer.gallery.selected == "1" and explorer.controls.method.value == "slowtest"
    release.set()
    assert explorer.wait(20)
    assert explorer.state.method == "slowtest" and explorer.state.image == 1
    assert explorer.overlay.status.startswith("SlowTestCAM · ") and not explorer.overlay.busy
