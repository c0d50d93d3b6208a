"""ScoreCAM, SSCAM, ISCAM and AblationCAM: shortcuts that must not change the result (mask
deduplication, batch size, skipping the layers before the ablated one), known answers between the
Score-CAM variants, reproducibility, progress, cancellation and a model left as it was."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch import nn

import camwidgets as cw
from camwidgets.engine.batch_sizing import MeasuredChunks, chosen_batch_size
from tests.conftest import Small, assert_unchanged, mixed_state, seeded, snapshot

SCORE_FAMILY = {"ScoreCAM": {}, "SSCAM": {"num_samples": 2, "seed": 0}, "ISCAM": {"num_samples": 2}}


class ImagesSeen:
    """Counts the images a module processes (batch sizes of its inputs), with a removable pre-hook."""

    def __init__(self, module: nn.Module) -> None:
        self.module, self.sizes = module, []

    def __enter__(self) -> ImagesSeen:
        self._handle = self.module.register_forward_pre_hook(lambda _m, inputs: self.sizes.append(inputs[0].shape[0]))
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()


class Redundant(nn.Module):
    """A stem, then a target layer whose 12 channels are 4 computed ones, 4 copies of them and 4
    zeros; pooled into 3 logits. Its Score-CAM needs only 4 masked forwards per image, plus one zero image."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.target = nn.Identity()
        self.head = nn.Sequential(
            nn.Conv2d(12, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3)
        )

    def forward(self, x):
        features = self.stem(x)
        return self.head(self.target(torch.cat([features, features, torch.zeros_like(features)], dim=1)))


class Residual(nn.Module):
    """``Small`` with a skip connection over its target conv: the layers before it cannot be skipped."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.body = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        features = self.stem(x)
        return self.fc(torch.relu(self.body(features) + features).mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def redundant():
    return seeded(Redundant, seed=3)


@pytest.fixture(scope="module")
def images():
    return torch.randn(2, 3, 20, 20, generator=torch.Generator().manual_seed(5))


def run(method: str, model: nn.Module, layers, batch, targets=None, **options):
    return getattr(cw, method)(model, layers, progress=False, as_tensor=True, **options)(batch, targets)


# --- shortcuts that keep the result ------------------------------------------------------------


@pytest.mark.parametrize("method", ["ScoreCAM", "ISCAM"])
def test_deduplication_scores_each_distinct_mask_once_with_the_same_result(method, redundant, images):
    options = SCORE_FAMILY[method]
    with ImagesSeen(redundant) as fast:
        deduplicated = run(method, redundant, ["target"], images, **options)
    with ImagesSeen(redundant) as slow:
        every_channel = run(method, redundant, ["target"], images, deduplicate=False, **options)
    samples = options.get("num_samples", 1)
    assert sum(fast.sizes) == 2 + samples * 2 * 4 + 2  # capture, 4 distinct channels per image and sample, zero images
    assert sum(slow.sizes) == 2 + samples * 2 * 12
    assert torch.allclose(deduplicated, every_channel, atol=1e-6)
    assert float(deduplicated.amax()) == pytest.approx(1.0, abs=1e-6)


def test_batch_size_does_not_change_the_maps(redundant, images):
    for method in ("ScoreCAM", "AblationCAM"):
        sizes = (1, 3, 64) + ((None,) if method == "ScoreCAM" else ())  # None: measured
        maps = [run(method, redundant, ["stem"], images, batch_size=size) for size in sizes]
        assert all(torch.allclose(maps[0], other, atol=1e-6) for other in maps[1:]), method


def test_measured_chunks_cover_the_work_once_and_remember_the_fastest_size():
    model, x = nn.Conv2d(3, 2, 3), torch.zeros(1, 3, 8, 8)
    chunks = MeasuredChunks(model, x, None)
    seen = []
    for part in chunks.slices(200):
        seen.extend(range(part.start, part.stop))
        time.sleep(0.002 * (1 + abs((part.stop - part.start) - 8)))  # per copy, fastest in chunks of 8
    assert seen == list(range(200))
    assert chunks.size == 8 == chosen_batch_size(model, x)
    assert chosen_batch_size(model, torch.zeros(1, 3, 9, 9)) is None  # remembered per input shape
    again = MeasuredChunks(model, x, None)  # the next call starts with the measured size
    assert [p.stop - p.start for p in again.slices(20)] == [8, 8, 4]
    assert [p.stop - p.start for p in MeasuredChunks(model, x, 5).slices(12)] == [5, 5, 2]
    assert [p.stop - p.start for p in MeasuredChunks(nn.Linear(1, 1), x, None).slices(3)] == [2, 1]


def test_ablation_skips_the_layers_before_the_target_when_it_can():
    """Without a skip connection over the target, the stem sees the capture's images once and
    then only empty batches; the maps equal those of full forwards with the channel ablated."""
    model, batch = seeded(Small), torch.randn(3, 3, 16, 16)
    with ImagesSeen(model.stem) as seen:
        reused = run("AblationCAM", model, ["head_conv"], batch, batch_size=5)
    assert seen.sizes[0] == 3 and set(seen.sizes[1:]) == {0}
    with ImagesSeen(model.stem) as seen:
        full = run("AblationCAM", model, ["head_conv"], batch, batch_size=5, reuse_prefix=False)
    assert sum(seen.sizes) == 3 + 3 * 8  # capture, then one image per ablated channel
    assert torch.allclose(reused, full, atol=1e-6)


def test_ablation_falls_back_to_full_forwards_over_a_skip_connection():
    model, batch = seeded(Residual), torch.randn(2, 3, 12, 12)
    with ImagesSeen(model.stem) as seen:
        auto = run("AblationCAM", model, ["body"], batch, batch_size=4)
    assert sum(seen.sizes) == 2 + 2 * 8  # capture, the failed probe's empty batch, then full forwards
    assert torch.allclose(auto, run("AblationCAM", model, ["body"], batch, reuse_prefix=False), atol=1e-6)


# --- known answers -----------------------------------------------------------------------------


def test_score_variants_reduce_to_scorecam(redundant, images):
    """SS-CAM without noise and IS-CAM with one step (factor 1) are Score-CAM."""
    targets = [cw.ClassifierOutputTarget(1), cw.ClassifierOutputTarget(2)]
    score = run("ScoreCAM", redundant, ["stem"], images, targets)
    assert torch.allclose(run("SSCAM", redundant, ["stem"], images, targets, std=0.0, num_samples=3), score, atol=1e-5)
    assert torch.allclose(run("ISCAM", redundant, ["stem"], images, targets, num_samples=1), score, atol=1e-6)


def test_scorecam_weights_by_hand():
    """One image, a layer of two channels: the maps are ``softmax(y(x M_1), y(x M_2)) . A``."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2)
    ).eval()
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        activations = model[:2](x)
        masks = torch.nn.functional.interpolate(activations, size=(8, 8), mode="bilinear", align_corners=True)
        low, high = masks.amin(dim=(2, 3), keepdim=True), masks.amax(dim=(2, 3), keepdim=True)
        masks = (masks - low) / (high - low + 1e-8)
        scores = torch.stack([model(x * masks[:, k : k + 1])[0, 1] for k in range(2)])
        expected = torch.relu(torch.einsum("c,chw->hw", torch.softmax(scores, 0), activations[0]))
    expected = (expected - expected.min()) / (expected.max() - expected.min() + 1e-7)
    got = run("ScoreCAM", model, ["1"], x, [cw.ClassifierOutputTarget(1)], channels_last=False)
    assert torch.allclose(got[0], expected, atol=1e-5)


def test_ablationcam_weights_by_hand():
    """Linear head after a ReLU layer: ablating channel k (to 0) lowers the logit by w_k mean(A_k),
    so the weight is ``w_k mean(A_k) / y``."""
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)
    ).eval()
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        activations = model[:2](x)[0]
        logit = model(x)[0, 0]
        weights = model[4].weight[0] * activations.mean(dim=(1, 2)) / logit
        expected = torch.relu(torch.einsum("c,chw->hw", weights, activations))
    expected = (expected - expected.min()) / (expected.max() - expected.min() + 1e-7)
    got = run("AblationCAM", model, ["1"], x, [cw.ClassifierOutputTarget(0)])
    assert torch.allclose(got[0], expected, atol=1e-5)


def test_sscam_is_reproducible_with_a_seed(redundant, images):
    first = run("SSCAM", redundant, ["stem"], images, num_samples=2, seed=4)
    assert torch.equal(first, run("SSCAM", redundant, ["stem"], images, num_samples=2, seed=4))
    assert float((first - run("SSCAM", redundant, ["stem"], images, num_samples=2, seed=5)).abs().max()) > 1e-4
    torch.manual_seed(7)
    unseeded = run("SSCAM", redundant, ["stem"], images, num_samples=2)
    torch.manual_seed(7)
    assert torch.equal(unseeded, run("SSCAM", redundant, ["stem"], images, num_samples=2))


@pytest.mark.parametrize(
    "method, options",
    [
        ("ScoreCAM", {}),
        ("SSCAM", {"num_samples": 2, "std": 0.5, "seed": 0}),
        ("ISCAM", {"num_samples": 2}),
        ("AblationCAM", {}),
    ],
)
def test_maps_point_at_the_object_on_the_shapes_data(method, options):
    """The trained shapes CNN: the map's peak lies within 4 px of the object for most images."""
    from camwidgets.data.shapes import make_shapes, normalise
    from camwidgets.data.shapes_cnn import SHAPES_CNN_LAYER, load_shapes_cnn

    model, shapes = load_shapes_cnn(), make_shapes(8, seed=11)
    targets = [cw.ClassifierOutputTarget(int(label)) for label in shapes.labels]
    maps = getattr(cw, method)(model, [SHAPES_CNN_LAYER], progress=False, **options)(normalise(shapes.images), targets)
    assert float(cw.pointing_game(maps, shapes.masks, tolerance=4).mean()) >= 0.75


# --- options, progress, cancellation, reliability ------------------------------------------------


def test_parameters_are_attributes_read_at_each_call(redundant, images):
    cam = cw.ScoreCAM(redundant, ["stem"], progress=False)
    assert (cam.batch_size, cam.deduplicate) == (None, True)
    steps = []
    cam.batch_size, cam.progress = 3, lambda done, total, name: steps.append((done, total, name))
    cam(images)
    # 4 distinct channels of image 0 and 4 of image 1: 8 masked images in chunks of 3
    assert steps == [(3, 8, "ScoreCAM"), (6, 8, "ScoreCAM"), (8, 8, "ScoreCAM")]
    ablation = cw.AblationCAM(redundant, ["stem"], None, None, 2, progress=False)
    assert (ablation.batch_size, ablation.ratio_channels_to_ablate, type(ablation.ablation_layer)) == (
        2,
        1.0,
        cw.AblationLayer,
    )


def test_bad_options_say_what_to_do(redundant, images):
    with pytest.raises(TypeError, match="batch_size"):
        cw.Explainer(redundant, ["stem"]).compute("scorecam", images, options={"batchsize": 4}, progress=False)
    with pytest.raises(TypeError, match="AblationLayer"):
        cw.AblationCAM(redundant, ["stem"], ablation_layer=nn.Identity(), progress=False)(images)
    with pytest.raises(ValueError, match="batch_size"):
        cw.ScoreCAM(redundant, ["stem"], batch_size=0, progress=False)(images)
    with pytest.raises(ValueError, match="num_samples"):
        cw.SSCAM(redundant, ["stem"], num_samples=0, progress=False)(images)
    with pytest.raises(ValueError, match="ratio_channels_to_ablate"):
        cw.AblationCAM(redundant, ["stem"], ratio_channels_to_ablate=1.5, progress=False)(images)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_mixed_precision_needs_cuda(redundant, images):
    with pytest.raises(ValueError, match="CUDA"):
        cw.ScoreCAM(redundant, ["stem"], use_amp=True, progress=False)(images)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="mixed precision runs on CUDA only")
def test_mixed_precision_on_cuda_is_close_to_float32(redundant, images):
    model, batch = seeded(Redundant, seed=3).cuda(), images.cuda()
    exact = run("ScoreCAM", model, ["stem"], batch)
    assert float((run("ScoreCAM", model, ["stem"], batch, use_amp=True) - exact).abs().max()) < 0.05


class FailsOnCall:
    """A forward pre-hook raising on the n-th call of the model (the capture is call 1)."""

    def __init__(self, model: nn.Module, call: int) -> None:
        self.calls, self.call = 0, call
        self.handle = model.stem.register_forward_pre_hook(self)

    def __call__(self, module, inputs):
        self.calls += 1
        if self.calls == self.call:
            raise RuntimeError("model failed")


@pytest.mark.parametrize("method", ["ScoreCAM", "SSCAM", "ISCAM", "AblationCAM"])
def test_model_is_left_as_it_was(method, small_batch):
    model = seeded(Small)
    mixed_state(model)
    before = snapshot(model)
    options = {**SCORE_FAMILY.get(method, {}), "batch_size": 2}
    maps = getattr(cw, method)(model, ["head_conv"], progress=False, **options)(small_batch)
    assert maps.shape == (3, 16, 16) and np.isfinite(maps).all()
    assert_unchanged(model, before)
    with pytest.raises(cw.Cancelled):
        getattr(cw, method)(model, ["head_conv"], progress=lambda done, total, _: done < 2, **options)(small_batch)
    assert_unchanged(model, before)
    failing = FailsOnCall(model, 3)
    try:
        with pytest.raises(RuntimeError, match="model failed"):
            getattr(cw, method)(model, ["head_conv"], progress=False, **options)(small_batch)
    finally:
        failing.handle.remove()
    assert_unchanged(model, before)


def test_ablation_progress_counts_the_chunks_of_the_channels_picked(redundant, images):
    steps = []
    cw.AblationCAM(
        redundant, ["stem"], batch_size=3, ratio_channels_to_ablate=0.25, progress=lambda *step: steps.append(step)
    )(images)
    assert steps == [
        (1, 2, "AblationCAM"),
        (2, 2, "AblationCAM"),
    ]  # int(4 * 0.25) top + 1 bottom channel per image: 4 copies
