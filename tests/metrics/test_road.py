"""ROAD: parity with grad-cam 1.5.7 (noise-free exactly, noisy in the batch mean), which pixels a
percentile removes, and how the averaged forms are built."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from camwidgets.metrics import (
    RemoveLeastRelevantFirst,
    RemoveMostRelevantFirst,
    ROADCombined,
    ROADLeastRelevantFirst,
    ROADLeastRelevantFirstAverage,
    ROADMostRelevantFirst,
    ROADMostRelevantFirstAverage,
    percentile_threshold,
)
from camwidgets.metrics.imputation import NEIGHBOUR_WEIGHTS
from tests.conftest import CountingForward
from tests.metrics.conftest import scores_of

TOLERANCE = 1e-3
NOISY_TOLERANCE = 1e-2

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# --- parity -------------------------------------------------------------------------------------


@pytest.mark.parity
@pytest.mark.parametrize("percentile", [0, 30, 80, 100])
@pytest.mark.parametrize("name", ["ROADMostRelevantFirst", "ROADLeastRelevantFirst"])
def test_one_percentile_matches_reference_without_noise(noise_free_reference, resnet_case, name, percentile):
    case = resnet_case
    theirs = getattr(noise_free_reference, name)(percentile)(case.input_tensor, case.cams, case.targets, case.model)
    ours = globals()[name](percentile, noise=0)(case.input_tensor, case.cams, case.targets, case.model)
    assert type(ours) is np.ndarray and ours.dtype == np.float32 and ours.shape == theirs.shape == (4,)
    assert np.abs(ours - theirs).max() <= TOLERANCE


@pytest.mark.parity
@pytest.mark.parametrize("name", ["ROADMostRelevantFirstAverage", "ROADLeastRelevantFirstAverage", "ROADCombined"])
def test_averages_match_reference_without_noise(noise_free_reference, resnet_case, name):
    case = resnet_case
    theirs = getattr(noise_free_reference, name)()(case.input_tensor, case.cams, case.targets, case.model)
    ours = globals()[name](noise=0)(case.input_tensor, case.cams, case.targets, case.model)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape == (4,)
    assert np.abs(ours - theirs).max() <= TOLERANCE


@pytest.mark.parity
@pytest.mark.parametrize("name, percentile", [("ROADMostRelevantFirst", 80), ("ROADLeastRelevantFirst", 20)])
def test_pretrained_matches_reference_without_noise(noise_free_reference, mobilenet_case, name, percentile):
    case = mobilenet_case
    theirs, their_batch = getattr(noise_free_reference, name)(percentile)(
        case.input_tensor, case.cams, case.targets, case.model, return_visualization=True
    )
    ours, our_batch = globals()[name](percentile, noise=0)(
        case.input_tensor, case.cams, case.targets, case.model, return_visualization=True
    )
    assert np.abs(ours - theirs).max() <= TOLERANCE
    # the infill agrees to the solver's tolerance (about 1e-3 at the default), the scores to 1e-3
    assert our_batch.shape == their_batch.shape and (our_batch - their_batch).abs().max() <= 2e-3


@pytest.mark.parity
def test_pretrained_matches_reference_with_noise_in_the_mean(reference_metrics, mobilenet_case):
    """With the default imputation noise (std 0.01) the draws differ; batch means over two seeds agree."""
    case, road = mobilenet_case, reference_metrics["road"]
    args = (case.input_tensor, case.cams, case.targets, case.model)
    for name, percentile in [("ROADMostRelevantFirst", 80), ("ROADLeastRelevantFirst", 20)]:
        theirs, ours = [], []
        for seed in (0, 1):
            torch.manual_seed(seed)
            theirs.append(getattr(road, name)(percentile)(*args).mean())
            ours.append(globals()[name](percentile, generator=torch.Generator().manual_seed(100 + seed))(*args).mean())
        assert abs(np.mean(ours) - np.mean(theirs)) <= NOISY_TOLERANCE, name


@pytest.mark.parity
def test_return_diff_false_gives_the_imputed_scores(noise_free_reference, resnet_case):
    case = resnet_case
    theirs = noise_free_reference.ROADMostRelevantFirst(50)(
        case.input_tensor, case.cams, case.targets, case.model, return_diff=False
    )
    ours = ROADMostRelevantFirst(50, noise=0)(case.input_tensor, case.cams, case.targets, case.model, return_diff=False)
    assert np.abs(ours - theirs).max() <= TOLERANCE


# --- which pixels go ----------------------------------------------------------------------------


def test_thresholds_are_numpy_percentiles_exactly():
    rng = np.random.default_rng(0)
    maps = np.float32(rng.random((3, 37, 29)) ** 3)
    maps[0, :10] = 0  # ties, as in a ReLU'd map
    maps[1] = np.round(maps[1] * 8) / 8
    for percentile in [0, 1, 10, 33.3, 50, 80, 99.9, 100]:
        ours = percentile_threshold(torch.from_numpy(maps), percentile).numpy()
        np.testing.assert_array_equal(ours, [np.percentile(m, percentile) for m in maps])
        flipped = 1 - torch.from_numpy(maps)
        np.testing.assert_array_equal(
            percentile_threshold(flipped, percentile).numpy(), [np.percentile(m, percentile) for m in flipped.numpy()]
        )


def test_percentile_is_the_share_of_pixels_kept():
    maps = torch.rand(2, 64, 64, generator=torch.Generator().manual_seed(0))
    for percentile in [10, 50, 80]:
        most = RemoveMostRelevantFirst(percentile, None).keep_mask(maps)
        least = RemoveLeastRelevantFirst(percentile, None).keep_mask(maps)
        for keep in (most, least):
            assert torch.allclose(keep.mean(dim=(1, 2)), torch.full((2,), percentile / 100), atol=1 / 4096)
        for image in range(2):
            values, kept_most, kept_least = maps[image], most[image] == 1, least[image] == 1
            assert values[~kept_most].min() >= values[kept_most].max()  # MoRF removes the top of the map
            assert values[~kept_least].max() <= values[kept_least].min()  # LeRF the bottom


def identity_imputer(images, keep):
    return images * keep.unsqueeze(1)


def test_percentile_zero_removes_every_pixel(resnet_case):
    """The reference keeps ``cam < percentile(cam, p)``: at p=0 nothing is below the minimum, so all
    pixels are imputed; with no pixel left to average, the infill is 0 (plus noise)."""
    case = resnet_case
    zero_scores = scores_of(case.model, torch.zeros_like(case.input_tensor), case.targets)
    for metric in (ROADMostRelevantFirst(0, noise=0), ROADLeastRelevantFirst(0, noise=0)):
        after, imputed = metric(
            case.input_tensor, case.cams, case.targets, case.model, return_diff=False, return_visualization=True
        )
        assert torch.count_nonzero(imputed) == 0
        np.testing.assert_allclose(after, zero_scores, rtol=1e-5, atol=1e-5)


def test_percentile_hundred_removes_only_the_extreme_pixel():
    """At p=100 MoRF imputes only the map's maximum, LeRF only its minimum; that pixel takes the
    weighted mean of its neighbours (1/6 sides, 1/12 diagonals) and nothing else changes."""
    images = torch.randn(2, 3, 12, 10, generator=torch.Generator().manual_seed(3))
    maps = torch.rand(2, 12, 10, generator=torch.Generator().manual_seed(4))
    maps[0, 4, 6], maps[1, 9, 2] = 2.0, -1.0  # unique maximum / minimum
    for metric_class, image, where in [(ROADMostRelevantFirst, 0, (4, 6)), (ROADLeastRelevantFirst, 1, (9, 2))]:
        metric = metric_class(100, noise=0)
        imputed = metric.perturbation(images, maps)
        changed = (imputed != images).any(dim=1)
        assert changed[image].nonzero().tolist() == [list(where)]
        row, column = where
        expected = sum(weight * images[image, :, row + dr, column + dc] for dr, dc, weight in NEIGHBOUR_WEIGHTS)
        torch.testing.assert_close(imputed[image, :, row, column], expected, rtol=1e-5, atol=1e-5)


def test_a_constant_map_removes_every_pixel():
    maps = torch.full((1, 8, 8), 0.5)
    for percentile in (0, 50, 100):
        assert RemoveMostRelevantFirst(percentile, None).keep_mask(maps).sum() == 0


# --- averaged forms -----------------------------------------------------------------------------


def test_averages_are_means_of_single_percentiles(resnet_case):
    case = resnet_case
    args = (case.input_tensor, case.cams, case.targets, case.model)
    morf = [ROADMostRelevantFirst(p, noise=0)(*args) for p in (20, 60)]
    lerf = [ROADLeastRelevantFirst(p, noise=0)(*args) for p in (20, 60)]
    np.testing.assert_allclose(ROADMostRelevantFirstAverage([20, 60], noise=0)(*args), np.mean(morf, axis=0), atol=1e-6)
    np.testing.assert_allclose(
        ROADLeastRelevantFirstAverage([20, 60], noise=0)(*args), np.mean(lerf, axis=0), atol=1e-6
    )
    np.testing.assert_allclose(
        ROADCombined([20, 60], noise=0)(*args), (np.mean(lerf, axis=0) - np.mean(morf, axis=0)) / 2, atol=1e-6
    )


def test_one_forward_for_the_original_and_one_per_perturbation(resnet_case):
    case = resnet_case
    args = (case.input_tensor, case.cams, case.targets, case.model)
    for metric, forwards in [
        (ROADMostRelevantFirst(50), 2),
        (ROADMostRelevantFirstAverage([30, 60, 90]), 4),
        (ROADCombined([30, 60, 90]), 7),
    ]:
        with CountingForward(case.model) as counter:
            metric(*args)
        assert counter.count == forwards, metric


def test_noise_is_reproducible_with_a_generator(resnet_case):
    case = resnet_case
    args = (case.input_tensor, case.cams, case.targets, case.model)
    first = ROADCombined([50], generator=torch.Generator().manual_seed(5))(*args)
    second = ROADCombined([50], generator=torch.Generator().manual_seed(5))(*args)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("percentile", ["auto", -1, 101, None, True])
def test_bad_percentiles_are_refused(percentile):
    with pytest.raises(ValueError, match="percentile"):
        ROADMostRelevantFirst(percentile)


def test_bad_percentile_lists_are_refused():
    with pytest.raises(ValueError, match="percentiles must be a non-empty list"):
        ROADCombined([])
    with pytest.raises(ValueError, match="percentiles must be a non-empty list"):
        ROADMostRelevantFirstAverage(50)
    with pytest.raises(ValueError, match="'auto'"):
        ROADLeastRelevantFirstAverage([10, "auto"])
