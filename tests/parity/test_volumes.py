"""Volumes (B, C, D, H, W): parity with MONAI 1.6.1's ``monai.visualize`` and with grad-cam 1.5.7.

- MONAI's GradCAM equals ours within 1e-4 once its map is turned back: its default normaliser is
  ``ScaleIntensity(minv=1.0, maxv=0.0)``, which maps the largest value to 0, so its map is 1 - ours.
- MONAI's GradCAM++ divides by ``2 g^2 + sum_ij A_ij g_ij^3`` (one number per channel), where the
  paper and grad-cam 1.5.7 divide by ``2 g_ij^2 + (sum_ab A_ab) g_ij^3`` (one per position); ours is
  the paper's. The test rebuilds MONAI's variant from our capture to show that this is the whole
  difference (0.02-0.03 on these volumes).
- grad-cam 1.5.7 resizes 3-D maps with ``scipy.ndimage.zoom`` (a cubic spline) and we with
  ``F.interpolate`` (trilinear, as MONAI): at a layer whose grid is the input's (no resize) every
  method agrees within 1e-4; at a coarser layer the two resizes differ by 0.1-0.5.
MONAI's CAM objects keep hooks on the module they wrap, so each gets its own copy of the model.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import camwidgets as cw
from camwidgets.engine.methods import METHODS, single_capture_methods
from tests.conftest import hook_count, reference_with_signed_projection

monai_visualize = pytest.importorskip("monai.visualize")
reference = pytest.importorskip("pytorch_grad_cam")

TOLERANCE = 1e-4


def volume_cnn() -> nn.Module:
    """Two 3-D convolutions at full resolution, one after pooling, a linear head."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv3d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv3d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
        nn.Conv3d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(16, 3),
    ).eval()  # fmt: skip


@pytest.fixture(scope="module")
def model() -> nn.Module:
    return volume_cnn()


def volumes(batch: int, seed: int) -> torch.Tensor:
    return torch.randn(batch, 1, 12, 20, 24, generator=torch.Generator().manual_seed(seed))


def monai_map(kind, model: nn.Module, x: torch.Tensor, layer: str) -> np.ndarray:
    cam = kind(copy.deepcopy(model), target_layers=layer)
    return 1.0 - cam(x).squeeze(1).detach().numpy()


def test_gradcam_equals_monai_on_a_batch_of_volumes(model):
    x = volumes(2, 1)
    hooks = hook_count(model)
    ours = cw.GradCAM(model, [model[5]])(x)
    assert ours.shape == (2, 12, 20, 24)
    np.testing.assert_allclose(ours, monai_map(monai_visualize.GradCAM, model, x, "5"), atol=TOLERANCE)
    assert hook_count(model) == hooks


@pytest.mark.parametrize("seed", [2, 3])
def test_gradcam_plus_plus_differs_from_monai_by_its_denominator_alone(model, seed):
    """MONAI's GradCAM++ (batch 1: its own code broadcasts the score over the last axis) equals the
    paper's formula with MONAI's per-channel denominator, computed here from our capture."""
    x = volumes(1, seed)
    theirs = monai_map(monai_visualize.GradCAMpp, model, x, "5")
    explainer = cw.GradCAMPlusPlus(model, [model[5]])
    ours = explainer(x)
    record = explainer.explainer.capture(x, None, need_gradients=True).records[0]
    a, g = record.activation.double(), record.gradient.double()
    denominator = 2 * g**2 + (a * g**3).sum(dim=(2, 3, 4), keepdim=True)
    alpha = g**2 / (torch.where(denominator != 0, denominator, torch.ones_like(denominator)) + 1e-7)
    weights = (alpha * torch.relu(g)).sum(dim=(2, 3, 4), keepdim=True)
    variant = torch.relu((weights * a).sum(dim=1))
    variant = cw.engine.upsample(variant, x.shape[2:])
    variant = ((variant - variant.min()) / (variant.max() - variant.min())).numpy()
    np.testing.assert_allclose(variant, theirs, atol=TOLERANCE)
    difference = np.abs(ours - theirs).max()
    assert 1e-3 < difference < 0.1, difference  # the denominators differ, the maps nearly agree
    assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] > 0.99


def test_every_single_capture_method_equals_grad_cam_where_no_resize_happens(model):
    """At ``model[2]`` the grid is the volume's, so grad-cam's spline resize is the identity."""
    x = volumes(2, 4)
    targets = [cw.ClassifierOutputTarget(1), cw.ClassifierOutputTarget(2)]
    names = [name for name in single_capture_methods() if name not in ("randomcam",)]
    ours = cw.engine.Explainer(model, [model[2]]).compute_many(names, x, targets)
    checked = 0
    with reference_with_signed_projection() as oracle, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            theirs_class = getattr(oracle, METHODS[name].class_name, None)
            if theirs_class is None:
                continue
            twin = copy.deepcopy(model)
            with theirs_class(model=twin, target_layers=[twin[2]]) as cam:
                theirs = cam(x, targets=targets)
            np.testing.assert_allclose(ours[name].cpu().numpy(), theirs, atol=TOLERANCE, err_msg=name)
            checked += 1
    assert checked >= 8


def test_at_a_coarser_layer_the_spline_and_trilinear_resizes_differ():
    """What the README says about grad-cam's volumes: same raw maps, a different resize."""
    model = volume_cnn()
    x = volumes(1, 5)
    ours = cw.GradCAM(model, [model[5]])(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twin = copy.deepcopy(model)
        with reference.GradCAM(model=twin, target_layers=[twin[5]]) as cam:
            theirs = cam(x, targets=None)
    difference = np.abs(ours - theirs).max()
    assert 0.05 < difference < 0.6, difference
    assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] > 0.95
