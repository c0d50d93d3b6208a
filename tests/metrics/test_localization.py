"""Localization metrics against masks and boxes: known answers, brute-force checks on random maps,
input forms and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from camwidgets.metrics import (
    boxes_to_masks,
    energy_pointing_game,
    pointing_game,
    relevance_mass_accuracy,
    relevance_rank_accuracy,
)


@pytest.fixture
def boxes_case():
    """Two 20x30 images, a box per image, and the matching masks."""
    boxes = np.array([[2, 3, 10, 8], [15, 10, 30, 20]])
    masks = np.zeros((2, 20, 30), dtype=bool)
    masks[0, 3:8, 2:10] = True
    masks[1, 10:20, 15:30] = True
    return boxes, masks


def brute_force_pointing(cams: np.ndarray, masks: np.ndarray, tolerance: float) -> np.ndarray:
    hits = []
    for cam, mask in zip(cams, masks):
        peaks = np.argwhere(cam == cam.max())
        inside = np.argwhere(mask)
        distances = np.sqrt(((peaks[:, None, :] - inside[None, :, :]) ** 2).sum(-1))
        hits.append(bool(distances.min() <= tolerance))
    return np.array(hits)


def random_blobs(count: int, height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    masks = rng.random((count, height, width)) > 0.97
    masks[:, 0, 0] |= ~masks.reshape(count, -1).any(axis=1)
    return masks


# --- boxes ---------------------------------------------------------------------------------------


def test_boxes_become_masks(boxes_case):
    boxes, masks = boxes_case
    result = boxes_to_masks(boxes, (20, 30))
    assert isinstance(result, np.ndarray) and result.dtype == bool
    np.testing.assert_array_equal(result, masks)
    as_tensor = boxes_to_masks(torch.as_tensor(boxes), (20, 30))
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.dtype == torch.bool
    np.testing.assert_array_equal(as_tensor.numpy(), masks)
    np.testing.assert_array_equal(boxes_to_masks(boxes.tolist(), (20, 30)), masks)


def test_boxes_use_pixel_centres_and_are_clipped():
    masks = boxes_to_masks([[0.6, -5, 2.4, 1.5], [-3, -3, 100, 100]], (3, 4))
    np.testing.assert_array_equal(masks[0], [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert masks[1].all()


def test_several_boxes_per_image_are_united_and_empty_ones_ignored():
    boxes = np.array([[[0, 0, 2, 2], [3, 3, 5, 5], [4, 4, 4, 9]]])  # the last box is empty (padding)
    masks = boxes_to_masks(boxes, (5, 5))
    assert masks.shape == (1, 5, 5) and masks.sum() == 8
    assert masks[0, :2, :2].all() and masks[0, 3:, 3:].all()


@pytest.mark.parametrize(
    "boxes, size, message",
    [
        (np.zeros((2, 3)), (4, 4), "boxes must have shape"),
        (np.zeros((2, 4)), (4,), "size must be the image's"),
        (np.zeros((2, 4)), (0, 4), "size must be the image's"),
    ],
)
def test_box_errors(boxes, size, message):
    with pytest.raises(ValueError, match=message):
        boxes_to_masks(boxes, size)


# --- known answers -------------------------------------------------------------------------------


def test_a_map_on_the_object_scores_full_marks(boxes_case):
    _, masks = boxes_case
    cams = masks.astype(np.float32) * np.float32([[[0.5]], [[1.0]]])
    np.testing.assert_array_equal(pointing_game(cams, masks, tolerance=0), [True, True])
    np.testing.assert_allclose(energy_pointing_game(cams, masks), [1, 1])
    np.testing.assert_allclose(relevance_rank_accuracy(cams, masks), [1, 1])


def test_a_uniform_map_scores_the_area_fraction(boxes_case):
    _, masks = boxes_case
    cams = np.full(masks.shape, 0.3, dtype=np.float32)
    area = masks.mean(axis=(1, 2))
    np.testing.assert_allclose(energy_pointing_game(cams, masks), area, rtol=1e-5)
    np.testing.assert_allclose(relevance_rank_accuracy(cams, masks), area, rtol=1e-5)
    np.testing.assert_array_equal(pointing_game(cams, masks, tolerance=0), [True, True])  # any maximum may hit


def test_a_peak_outside_needs_the_tolerance_to_reach_the_mask():
    masks = np.zeros((1, 20, 20), dtype=bool)
    masks[0, 2:5, 2:5] = True
    cams = np.zeros((1, 20, 20), dtype=np.float32)
    cams[0, 4 + 3, 4 + 4] = 1  # 3 rows and 4 columns from the corner (4, 4): 5 pixels away
    assert not pointing_game(cams, masks, tolerance=0)[0]
    assert not pointing_game(cams, masks, tolerance=4.9)[0]  # Chebyshev (4) would hit
    assert pointing_game(cams, masks, tolerance=5)[0]  # Manhattan (7) would miss
    assert pointing_game(cams, masks)[0]  # the default tolerance is 15 pixels
    assert energy_pointing_game(cams, masks)[0] == 0
    # top K = 9: the peak (outside), then 8 places shared by the 399 zeros, 9 of which are inside
    np.testing.assert_allclose(relevance_rank_accuracy(cams, masks), [8 * 9 / 399 / 9], rtol=1e-6)


def test_relevance_mass_accuracy_is_the_energy_pointing_game():
    assert relevance_mass_accuracy is energy_pointing_game


def test_rank_accuracy_shares_tied_places():
    masks = np.zeros((1, 2, 4), dtype=bool)
    masks[0, 0, :2] = True  # K = 2
    cams = np.float32([[[1, 0.5, 0.5, 0.5], [0, 0, 0, 0.5]]])
    # the top value is inside; one place left for four pixels tied at 0.5, one of them inside
    np.testing.assert_allclose(relevance_rank_accuracy(cams, masks), [(1 + 1 / 4) / 2])


# --- against brute force -------------------------------------------------------------------------


@pytest.mark.parametrize("tolerance", [0, 1, 2.5, 7, 15])
def test_pointing_game_matches_brute_force(tolerance):
    masks = random_blobs(6, 17, 23, seed=1) & (np.arange(23) > 11)  # objects on the right only
    masks[:, 0, 22] = True
    cams = np.random.default_rng(2).random((6, 17, 23)).astype(np.float32)
    cams[3] = np.round(cams[3], 1)  # several maxima
    np.testing.assert_array_equal(pointing_game(cams, masks, tolerance), brute_force_pointing(cams, masks, tolerance))


def test_pointing_game_with_many_maxima_is_exact():
    masks = np.zeros((2, 96, 96), dtype=bool)
    masks[0, 90:, 90:] = True
    masks[1, 0, 0] = True
    cams = np.ones((2, 96, 96), dtype=np.float32)
    cams[1, :50] = 0.5  # the maxima start 50 rows below the only object pixel
    np.testing.assert_array_equal(pointing_game(cams, masks, tolerance=49.9), [True, False])
    np.testing.assert_array_equal(pointing_game(cams, masks, tolerance=50), [True, True])


def test_mass_and_rank_match_their_definitions():
    rng = np.random.default_rng(3)
    cams = rng.random((5, 12, 14)).astype(np.float32)
    masks = random_blobs(5, 12, 14, seed=4)
    energy = (cams * masks).sum(axis=(1, 2)) / cams.sum(axis=(1, 2))
    np.testing.assert_allclose(energy_pointing_game(cams, masks), energy, rtol=1e-5)
    ranks = []
    for cam, mask in zip(cams, masks):
        top = np.argsort(-cam.ravel())[: mask.sum()]
        ranks.append(mask.ravel()[top].mean())
    np.testing.assert_allclose(relevance_rank_accuracy(cams, masks), ranks, rtol=1e-6)


# --- input forms and errors ----------------------------------------------------------------------


def test_numpy_and_tensors_agree(boxes_case):
    boxes, masks = boxes_case
    cams = np.random.default_rng(5).random(masks.shape).astype(np.float32)
    tensors = torch.as_tensor(cams), boxes_to_masks(torch.as_tensor(boxes), (20, 30))
    for metric in (energy_pointing_game, relevance_rank_accuracy, pointing_game):
        from_numpy, from_tensors = metric(cams, masks), metric(*tensors)
        assert isinstance(from_tensors, np.ndarray) and from_tensors.shape == (2,)
        np.testing.assert_allclose(from_tensors, from_numpy)
    assert pointing_game(cams, masks).dtype == bool
    assert energy_pointing_game(cams, masks).dtype == relevance_rank_accuracy(cams, masks).dtype == np.float32
    np.testing.assert_allclose(energy_pointing_game(cams, masks.astype(np.uint8)), energy_pointing_game(cams, masks))


def test_a_map_of_zeros_has_no_energy_to_share(boxes_case):
    _, masks = boxes_case
    cams = np.ones(masks.shape, dtype=np.float32)
    cams[1] = 0
    result = energy_pointing_game(cams, masks)
    assert np.isfinite(result[0]) and np.isnan(result[1])


@pytest.mark.parametrize(
    "cams, masks, message",
    [
        (np.ones((2, 4, 4), np.float32), np.ones((2, 4, 5), bool), "one \\(H, W\\) mask per map"),
        (np.ones((2, 4, 5), np.float32), np.array([[0, 0, 2, 2], [1, 1, 3, 3]]), "looks like boxes"),
        (np.ones((2, 4, 4), np.float32), np.full((2, 4, 4), 2), "must be boolean"),
        (np.ones((2, 4, 4), np.float32), np.zeros((2, 4, 4), bool), "images \\[0, 1\\] are empty"),
        (np.ones((4, 4), np.float32), np.ones((4, 4), bool), "add the batch axis"),
        (np.ones((1, 4, 4), np.int64), np.ones((1, 4, 4), bool), "floating point"),
        ([[[1.0]]], np.ones((1, 1, 1), bool), "numpy array or a torch tensor"),
    ],
)
def test_input_errors(cams, masks, message):
    with pytest.raises((ValueError, TypeError), match=message):
        relevance_rank_accuracy(cams, masks)


def test_mass_needs_a_non_negative_map(boxes_case):
    _, masks = boxes_case
    with pytest.raises(ValueError, match="non-negative maps"):
        energy_pointing_game(np.full(masks.shape, -1, np.float32), masks)


@pytest.mark.parametrize("tolerance", [-1, float("nan"), "15", True])
def test_tolerance_must_be_a_distance(boxes_case, tolerance):
    _, masks = boxes_case
    with pytest.raises(ValueError, match="tolerance must be"):
        pointing_game(masks.astype(np.float32), masks, tolerance)
