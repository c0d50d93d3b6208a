"""Deletion and insertion curves: known answers on a model that scores a known region, the curves'
end points, baselines, tie order, chunking, and GradCAM against a random map on real photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from torch import nn

import camwidgets as cw
from camwidgets.metrics import CurveResult, deletion_curve, gaussian_blur, insertion_curve, make_baseline
from camwidgets.metrics.deletion import relevance_ranks, step_counts
from tests.conftest import CountingForward, Small, assert_unchanged, mixed_state, seeded, snapshot

CURVES = {"deletion": deletion_curve, "insertion": insertion_curve}


class RegionMean(nn.Module):
    """Class 0 scores the mean of the input over a fixed region (all channels), class 1 its negative."""

    def __init__(self, region: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("region", region.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x * self.region).sum(dim=(1, 2, 3)) / (self.region.sum() * x.shape[1])
        return torch.stack([score, -score], dim=1)


def top_left_region(size: int = 8, corner: int = 4) -> torch.Tensor:
    region = torch.zeros(size, size, dtype=torch.bool)
    region[:corner, :corner] = True
    return region


def scores_of(model, batch, targets) -> np.ndarray:
    with torch.no_grad():
        outputs = model(batch)
    return np.float32([target(row).item() for target, row in zip(targets, outputs)])


@pytest.fixture
def small_case():
    model = seeded(Small)
    batch = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    cams = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(3)).numpy()
    targets = [cw.ClassifierOutputSoftmaxTarget(c) for c in (0, 3, 4)]
    return model, batch, cams, targets


# --- known answers --------------------------------------------------------------------------------


def test_a_map_on_the_region_beats_the_reversed_map_exactly():
    region = top_left_region()
    model = RegionMean(region)
    images = torch.ones(2, 3, 8, 8)
    perfect = region.float()
    cams = torch.stack([perfect, 1 - perfect])  # image 0: region first, image 1: region last
    targets = [cw.ClassifierOutputTarget(0)] * 2
    deletion = deletion_curve(images, cams, targets, model, steps=4, baseline="constant")
    insertion = insertion_curve(images, cams, targets, model, steps=4, baseline="constant")
    np.testing.assert_allclose(deletion.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(deletion.scores, [[1, 0, 0, 0, 0], [1, 1, 1, 1, 0]], atol=1e-6)
    np.testing.assert_allclose(insertion.scores, [[0, 1, 1, 1, 1], [0, 0, 0, 0, 1]], atol=1e-6)
    np.testing.assert_allclose(deletion.auc, [0.125, 0.875], atol=1e-6)
    np.testing.assert_allclose(insertion.auc, [0.875, 0.125], atol=1e-6)
    assert deletion.kind == "deletion" and insertion.kind == "insertion"


def test_a_faithful_map_wins_on_a_random_image_with_a_blurred_baseline():
    region = top_left_region(16, 6)
    model = RegionMean(region)
    noise = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    images = 2 * region.float() + 0.2 * noise  # a bright object on a dark background
    ramp = torch.linspace(0, 0.5, 256).view(16, 16)  # in-region pixels above all others, ties avoided
    faithful = ramp + region.float()
    cams = torch.stack([faithful, faithful.amax() - faithful])
    targets = [cw.ClassifierOutputTarget(0)] * 2
    deletion = deletion_curve(images, cams, targets, model, steps=16, baseline="blur", kernel_size=15, sigma=8.0)
    insertion = insertion_curve(images, cams, targets, model, steps=16, baseline=-1.0)
    assert deletion.auc[0] < deletion.auc[1]
    assert insertion.auc[0] > insertion.auc[1]


def test_auc_is_the_trapezoid_over_the_fractions(small_case):
    model, batch, cams, targets = small_case
    result = deletion_curve(batch, cams, targets, model, steps=7)
    assert isinstance(result, CurveResult)
    assert result.fractions.shape == (8,) and result.scores.shape == (3, 8) and result.auc.shape == (3,)
    assert result.scores.dtype == np.float32 and result.auc.dtype == np.float32
    expected = np.trapezoid(result.scores.astype(np.float64), result.fractions, axis=1)
    np.testing.assert_allclose(result.auc, expected, rtol=1e-6)
    assert result.mean_auc == pytest.approx(float(result.auc.mean()))


def test_step_counts_round_to_the_nearest_pixel():
    assert step_counts(64, 4) == [0, 16, 32, 48, 64]
    assert step_counts(10, 4) == [0, 3, 5, 8, 10]  # 2.5 and 7.5 round up
    assert step_counts(5, 8)[-1] == 5 and step_counts(5, 8)[0] == 0


# --- end points and baselines ---------------------------------------------------------------------


@pytest.mark.parametrize("baseline", ["blur", "constant"])
def test_end_points_are_the_original_and_the_baseline(small_case, baseline):
    model, batch, cams, targets = small_case
    original = scores_of(model, batch, targets)
    base = scores_of(model, make_baseline(batch, baseline), targets)
    deletion = deletion_curve(batch, cams, targets, model, steps=5, baseline=baseline)
    insertion = insertion_curve(batch, cams, targets, model, steps=5, baseline=baseline)
    np.testing.assert_allclose(deletion.scores[:, 0], original, atol=1e-6)
    np.testing.assert_allclose(deletion.scores[:, -1], base, atol=1e-6)
    np.testing.assert_allclose(insertion.scores[:, 0], base, atol=1e-6)
    np.testing.assert_allclose(insertion.scores[:, -1], original, atol=1e-6)


def test_baseline_forms_agree(small_case):
    model, batch, cams, targets = small_case
    as_string = deletion_curve(batch, cams, targets, model, steps=4, baseline="constant", value=0.5)
    as_number = deletion_curve(batch, cams, targets, model, steps=4, baseline=0.5)
    as_image = deletion_curve(batch, cams, targets, model, steps=4, baseline=torch.full((3, 16, 16), 0.5))
    as_batch = deletion_curve(batch, cams, targets, model, steps=4, baseline=np.full((3, 3, 16, 16), 0.5, np.float32))
    for other in (as_number, as_image, as_batch):
        np.testing.assert_allclose(other.scores, as_string.scores, atol=1e-6)
    blurred = make_baseline(batch, "blur", kernel_size=5, sigma=1.5)
    np.testing.assert_allclose(
        insertion_curve(batch, cams, targets, model, steps=4, baseline=blurred).scores,
        insertion_curve(batch, cams, targets, model, steps=4, kernel_size=5, sigma=1.5).scores,
        atol=1e-6,
    )


def test_gaussian_blur_matches_torchvision():
    images = torch.randn(2, 3, 20, 24, generator=torch.Generator().manual_seed(0))
    for kernel_size, sigma in ((11, 5.0), (3, 0.8), (7, 2.0)):
        expected = TF.gaussian_blur(images, [kernel_size, kernel_size], [sigma, sigma])
        torch.testing.assert_close(gaussian_blur(images, kernel_size, sigma), expected, atol=1e-5, rtol=0)


def test_gaussian_blur_of_a_tiny_image_keeps_a_constant():
    images = torch.full((1, 2, 3, 4), 0.7)
    torch.testing.assert_close(gaussian_blur(images, 11, 5.0), images)


# --- ordering ---------------------------------------------------------------------------------------


def test_ranks_follow_a_stable_descending_sort():
    maps = torch.tensor(np.random.default_rng(0).integers(0, 4, size=(3, 5, 6)), dtype=torch.float32)
    ranks = relevance_ranks(maps).reshape(3, -1).numpy()
    for flat, rank in zip(maps.reshape(3, -1).numpy(), ranks):
        order = np.argsort(-flat, kind="stable")
        np.testing.assert_array_equal(rank[order], np.arange(flat.size))


def test_ties_are_removed_in_raster_order():
    region = torch.zeros(8, 8, dtype=torch.bool)
    region[0] = True  # the first row
    model = RegionMean(region)
    images, cams = torch.ones(1, 3, 8, 8), torch.zeros(1, 8, 8)
    result = deletion_curve(images, cams, [cw.ClassifierOutputTarget(0)], model, steps=8, baseline="constant")
    np.testing.assert_allclose(result.scores[0], [1, 0, 0, 0, 0, 0, 0, 0, 0], atol=1e-6)
    again = deletion_curve(images, cams, [cw.ClassifierOutputTarget(0)], model, steps=8, baseline="constant")
    np.testing.assert_array_equal(again.scores, result.scores)


# --- batching, targets, model state -----------------------------------------------------------------


@pytest.mark.parametrize("curve", sorted(CURVES))
def test_chunks_give_the_same_curve(small_case, curve):
    model, batch, cams, targets = small_case
    reference = CURVES[curve](batch, cams, targets, model, steps=6)
    with CountingForward(model) as counter:
        chunked = CURVES[curve](batch, cams, targets, model, steps=6, batch_size=5)
    assert counter.count == -(-3 * 7 // 5)
    np.testing.assert_allclose(chunked.scores, reference.scores, atol=1e-6)
    np.testing.assert_allclose(
        CURVES[curve](batch, cams, targets, model, steps=6, batch_size=1).scores, reference.scores, atol=1e-6
    )


def test_default_evaluates_everything_in_one_forward(small_case):
    model, batch, cams, targets = small_case
    with CountingForward(model) as counter:
        deletion_curve(batch, cams, targets, model, steps=10)
    assert counter.count == 1


def test_targets_none_scores_each_top_class(small_case):
    model, batch, cams, _ = small_case
    with torch.no_grad():
        top = model(batch).argmax(dim=1).tolist()
    explicit = deletion_curve(batch, cams, [cw.ClassifierOutputTarget(c) for c in top], model, steps=4)
    implicit = deletion_curve(batch, torch.as_tensor(cams), None, model, steps=4)
    np.testing.assert_allclose(implicit.scores, explicit.scores, atol=1e-6)


def test_model_is_left_as_found(small_case):
    _, batch, cams, targets = small_case
    model = seeded(Small)
    expected = insertion_curve(batch, cams, targets, model, steps=4).scores
    mixed_state(model)
    before = snapshot(model)
    result = insertion_curve(batch, cams, targets, model, steps=4, batch_size=4)
    assert_unchanged(model, before)
    np.testing.assert_allclose(result.scores, expected, atol=1e-6)  # scored in eval mode


@pytest.mark.parametrize(
    "options, message",
    [
        ({"steps": 0}, "steps must be a positive integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"baseline": "mean"}, "baseline must be 'blur', 'constant'"),
        ({"baseline": torch.zeros(3, 8, 8)}, "a baseline tensor must have shape"),
        ({"baseline": torch.zeros(3, 16, 16, dtype=torch.int64)}, "must be floating point"),
        ({"kernel_size": 4}, "kernel_size must be a positive odd integer"),
        ({"sigma": 0}, "sigma must be a positive number"),
        ({"targets": [cw.ClassifierOutputTarget(0)]}, "got 1 targets for a batch of 3 images"),
    ],
)
def test_errors_say_what_to_do(small_case, options, message):
    model, batch, cams, targets = small_case
    options = {"targets": targets, **options}
    with pytest.raises((ValueError, TypeError), match=message):
        deletion_curve(batch, cams, options.pop("targets"), model, **options)


def test_maps_must_match_the_batch(small_case):
    model, batch, cams, targets = small_case
    with pytest.raises(ValueError, match="one map per image"):
        deletion_curve(batch, cams[:, :8], targets, model)


# --- real photos -------------------------------------------------------------------------------------


def smooth_random_maps(count: int, size: int, cells: int, seed: int = 0) -> np.ndarray:
    """Random maps at a CAM's resolution: uniform noise on a cells x cells grid, upsampled bilinearly."""
    grid = torch.rand(count, 1, cells, cells, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(grid, size=(size, size), mode="bilinear", align_corners=False)[:, 0].numpy()


@pytest.mark.slow
def test_gradcam_beats_a_random_map_on_photos(mobilenet_case, capsys):
    """Pretrained mobilenet_v2 on the bundled photos, probability of each top class, blurred baseline:
    GradCAM's maps (features.18, 7x7) delete the evidence faster (lower AUC) and reveal it faster
    (higher AUC) than random maps of the same 7x7 resolution, three draws per photo, on average."""
    case = mobilenet_case
    draws = 3
    random_maps = smooth_random_maps(draws * len(case.cams), case.cams.shape[-1], cells=7)
    inputs = {
        "GradCAM": (case.input_tensor, case.cams, case.targets),
        "random": (case.input_tensor.repeat(draws, 1, 1, 1), random_maps, case.targets * draws),
    }
    results = {
        (curve, name): CURVES[curve](images, maps, targets, case.model, steps=8)
        for curve in ("deletion", "insertion")
        for name, (images, maps, targets) in inputs.items()
    }
    with capsys.disabled():
        print()
        for (curve, name), result in results.items():
            per_photo = result.auc.reshape(-1, len(case.cams)).mean(axis=0)  # random: mean of the draws
            print(
                f"{curve:9s} AUC {name:7s}: mean {result.mean_auc:.4f}  per photo "
                + " ".join(f"{auc:.3f}" for auc in per_photo)
            )
    assert results["deletion", "GradCAM"].mean_auc < results["deletion", "random"].mean_auc
    assert results["insertion", "GradCAM"].mean_auc > results["insertion", "random"].mean_auc
