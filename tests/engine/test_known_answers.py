"""Known answers on tiny hand-built models whose maps can be worked out by hand.

The model: ``features`` = the input itself (identity on a (B, 2, 4, 4) tensor), then global average
pooling and a linear layer with weights ``W``. The score of class k is
``y_k = sum_c W[k, c] * mean_ij A_cij``, so ``dy_k/dA_cij = W[k, c] / 16`` everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import camwidgets as cw
from camwidgets.engine.maps import finish_maps, normalise_per_batch, normalise_per_image

WEIGHTS = torch.tensor([[1.0, -2.0], [0.5, 3.0]])


class PoolLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(WEIGHTS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


@pytest.fixture
def model():
    return PoolLinear().eval()


@pytest.fixture
def activations():
    generator = torch.Generator().manual_seed(3)
    return torch.rand(2, 2, 4, 4, generator=generator) + 0.1  # positive, so sums are positive


def raw(method, model, x, category, **options):
    cam = getattr(cw, method)(model, ["features"], normalise="none", **options)
    return cam(x, [cw.ClassifierOutputTarget(category)] * x.shape[0])


@pytest.mark.parametrize("category", [0, 1])
def test_gradcam_is_weighted_channel_sum(model, activations, category):
    expected = torch.relu(torch.einsum("c,bchw->bhw", WEIGHTS[category] / 16, activations)).numpy()
    np.testing.assert_allclose(raw("GradCAM", model, activations, category), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("category", [0, 1])
def test_hirescam_equals_gradcam_when_gradients_are_uniform(model, activations, category):
    np.testing.assert_allclose(
        raw("HiResCAM", model, activations, category),
        raw("GradCAM", model, activations, category),
        rtol=1e-5,
        atol=1e-7,
    )


def test_layercam_keeps_only_positive_gradients(model, activations):
    # class 0: W = [1, -2] -> only channel 0 counts, with gradient 1/16
    expected = (activations[:, 0] / 16).numpy()
    np.testing.assert_allclose(raw("LayerCAM", model, activations, 0), expected, rtol=1e-5)


def test_elementwise_drops_negative_products(model, activations):
    expected = (
        torch.relu(WEIGHTS[0, 0] / 16 * activations[:, 0]) + torch.relu(WEIGHTS[0, 1] / 16 * activations[:, 1])
    ).numpy()
    np.testing.assert_allclose(raw("GradCAMElementWise", model, activations, 0), expected, rtol=1e-5)


def test_xgradcam_weights_reduce_to_gradient(model, activations):
    # w_c = sum_ij G A / sum_ij A = G when G is uniform -> same as Grad-CAM
    np.testing.assert_allclose(raw("XGradCAM", model, activations, 1), raw("GradCAM", model, activations, 1), rtol=1e-4)


def test_gradcam_plusplus_by_formula(model, activations):
    gradient = WEIGHTS[1] / 16  # per channel, uniform over space
    sums = activations.sum(dim=(2, 3))  # (B, C)
    alpha = gradient**2 / (2 * gradient**2 + sums * gradient**3 + 1e-6)  # (B, C)
    weights = torch.relu(gradient) * alpha * 16  # summed over the 16 positions
    expected = torch.relu(torch.einsum("bc,bchw->bhw", weights, activations)).numpy()
    np.testing.assert_allclose(raw("GradCAMPlusPlus", model, activations, 1), expected, rtol=1e-4)


def test_eigencam_recovers_a_rank_one_pattern(model):
    pattern = torch.tensor([[0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 9.0], [0.0, 0.0, 1.0, 2.0], [0.0, 1.0, 1.0, 1.0]])
    strengths = torch.tensor([2.0, -1.5])
    x = (strengths[:, None, None] * pattern)[None]  # (1, 2, 4, 4), rank one over channels
    centred = pattern - pattern.mean()
    expected = torch.relu(centred * strengths.norm())  # sign: largest magnitude (9 - mean) positive
    np.testing.assert_allclose(raw("EigenCAM", model, x, 0), expected[None].numpy(), rtol=1e-4, atol=1e-5)
    flipped = raw("EigenCAM", model, -x, 0)  # the sign rule makes -x give the same map
    np.testing.assert_allclose(flipped, expected[None].numpy(), rtol=1e-4, atol=1e-5)


def test_constant_map_normalises_to_zeros_not_nan(model):
    x = torch.ones(1, 2, 4, 4)
    maps = cw.GradCAM(model, ["features"])(x, [cw.ClassifierOutputTarget(0)])
    assert np.isfinite(maps).all() and (maps == 0).all()


def test_maps_are_in_unit_range_and_reach_one(model, activations):
    maps = cw.GradCAM(model, ["features"])(activations, [cw.ClassifierOutputTarget(1)] * 2)
    assert maps.min() >= 0 and maps.max() <= 1
    np.testing.assert_allclose(maps.reshape(2, -1).max(axis=1), 1, atol=1e-5)


def test_normalisations():
    maps = torch.tensor([[[0.0, 1.0], [2.0, 4.0]], [[0.0, 2.0], [4.0, 8.0]]])
    per_image = normalise_per_image(maps)
    np.testing.assert_allclose(per_image[0], per_image[1], rtol=1e-6)
    per_batch = normalise_per_batch(maps)
    np.testing.assert_allclose(per_batch[0].max(), 0.5, rtol=1e-6)  # the weaker image keeps its relative strength
    np.testing.assert_allclose(per_batch[1].max(), 1.0, rtol=1e-6)


def test_layer_aggregation_mean_and_max():
    first = torch.tensor([[[0.0, 1.0], [0.0, 0.0]]])
    second = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]])
    mean = finish_maps([first, second], (2, 2), "none", "mean")
    maximum = finish_maps([first, second], (2, 2), "none", "max")
    np.testing.assert_allclose(mean, [[[0.0, 0.5], [0.5, 0.0]]])
    np.testing.assert_allclose(maximum, [[[0.0, 1.0], [1.0, 0.0]]])


def test_upsampling_matches_opencv_bilinear():
    import cv2

    small = torch.rand(1, 3, 5, generator=torch.Generator().manual_seed(0))
    ours = finish_maps([small], (12, 20), "none")[0].numpy()
    theirs = cv2.resize(small[0].numpy(), (20, 12), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_aug_smooth_averages_flipped_copies(model, activations):
    """A horizontally symmetric input gives the same map with and without aug_smooth (the
    flip is undone and brightness scales cancel in the normalisation)."""
    symmetric = (activations + activations.flip(-1)) / 2
    plain = cw.GradCAM(model, ["features"])(symmetric, [cw.ClassifierOutputTarget(0)] * 2)
    smoothed = cw.GradCAM(model, ["features"])(symmetric, [cw.ClassifierOutputTarget(0)] * 2, aug_smooth=True)
    np.testing.assert_allclose(plain, smoothed, atol=1e-5)


def test_volumes_give_volume_maps():
    """(B, C, D, H, W) input with a 3-D conv layer: maps are (B, D, H, W), trilinearly upsampled.
    (The reference resizes volumes with a cubic spline, so there is no parity here.)"""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv3d(1, 4, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 3)
    ).eval()
    volume = torch.rand(2, 1, 6, 8, 8, generator=torch.Generator().manual_seed(1))
    for method in ("GradCAM", "GradCAMPlusPlus", "EigenCAM"):
        maps = getattr(cw, method)(net, ["1"])(volume)
        assert maps.shape == (2, 6, 8, 8) and np.isfinite(maps).all()
        assert maps.max() > 0.9
