"""Sanity checks (Adebayo et al.): cascading model randomisation and random logit, on the small CNN,
with GradCAM (which should fail to stay similar) and an edge detector that ignores the model
(which stays identical: the check can tell them apart)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from camwidgets.metrics import model_randomization_test, random_logit_test, spearman_rank_correlation, ssim
from camwidgets.metrics.sanity import parametrised_layers
from tests.conftest import Small, assert_unchanged, mixed_state, seeded, snapshot


def edge_detector(model, x, targets):
    """Sobel gradient magnitude of the channel mean: a 'saliency map' that never looks at the model."""
    gray = x.mean(dim=1, keepdim=True)
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3)
    gx = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), kx)
    gy = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), kx.transpose(2, 3))
    return torch.sqrt(gx**2 + gy**2)[:, 0]


@pytest.fixture
def batch():
    # smooth blobs so that maps have structure at 32x32
    g = torch.Generator().manual_seed(3)
    return F.interpolate(torch.randn(4, 3, 8, 8, generator=g), size=32, mode="bilinear", align_corners=False)


def test_spearman_and_ssim_helpers():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 9, 9, generator=g)
    b = torch.rand(3, 9, 9, generator=g).round(decimals=1)  # ties
    ours = spearman_rank_correlation(a, b).numpy()
    theirs = [stats.spearmanr(a[i].flatten().numpy(), b[i].flatten().numpy()).statistic for i in range(3)]
    assert np.allclose(ours, theirs, atol=1e-6)
    assert np.allclose(spearman_rank_correlation(a, a).numpy(), 1)
    assert np.allclose(ssim(a, a).numpy(), 1) and np.all(ssim(a, b).numpy() < 0.9)


def test_default_steps_on_a_copy_leave_the_model_as_found(batch):
    model = seeded(Small)
    mixed_state(model)
    before = snapshot(model)
    result = model_randomization_test(model, batch, "gradcam", ["head_conv"])
    assert_unchanged(model, before)
    assert result.layers == list(reversed(parametrised_layers(model, batch))) == ["fc", "head_conv", "stem.1", "stem.0"]
    assert result.spearman.shape == result.ssim.shape == (4, 4)
    assert result.spearman.dtype == np.float32 and np.all(np.abs(result.spearman) <= 1)
    # an untrained 8-channel head: a new fc alone already scrambles GradCAM's channel weights
    assert result.mean_spearman[0] < 0.5
    assert "head_conv" in result.to_text()


def test_gradcam_similarity_falls_as_a_trained_model_is_randomised(pretrained_mobilenet):
    from camwidgets import photo_names
    from tests.conftest import photo_tensor

    model, _ = pretrained_mobilenet
    x = torch.cat([photo_tensor(name, 112) for name in photo_names()[:2]])
    before = snapshot(model)
    groups = ["classifier.1", "features.18", "features.17", "features.16", "features.14", "features.10", "features.4"]
    result = model_randomization_test(model, x, "gradcam", [model.features[18]], layers_to_randomize=groups)
    assert_unchanged(model, before)
    rho, similarity = result.mean_spearman, result.mean_ssim
    assert rho[-1] < rho[0] - 0.3 and similarity[-1] < similarity[0] - 0.2, (rho, similarity)
    edges = model_randomization_test(model, x, edge_detector, None, layers_to_randomize=groups)
    assert np.allclose(edges.spearman, 1, atol=1e-6)


def test_gradcam_fails_to_stay_similar_on_the_shipped_shapes_cnn():
    """The trained shapes CNN, every parametrised layer randomised in turn from the output down:
    GradCAM's rank correlation with the trained model's maps is below 0.5 by the time half the
    layers are randomised; the edge detector, which ignores the model, stays at 1."""
    from camwidgets.data.shapes import make_shapes, normalise
    from camwidgets.data.shapes_cnn import SHAPES_CNN_LAYER, load_shapes_cnn

    model = load_shapes_cnn()
    x = normalise(make_shapes(8, seed=101).images)
    before = snapshot(model)
    result = model_randomization_test(model, x, "gradcam", [SHAPES_CNN_LAYER])
    assert_unchanged(model, before)
    half = len(result.layers) // 2
    assert len(result.layers) == 9 and result.layers[0] == "classifier"
    assert result.mean_spearman[half - 1] < 0.5 and result.mean_ssim[half - 1] < 0.5, result.to_text()
    assert result.mean_spearman[0] < 1 - 0.3, result.to_text()
    edges = model_randomization_test(model, x, edge_detector, None)
    assert np.allclose(edges.mean_spearman, 1, atol=1e-6) and np.allclose(edges.mean_ssim, 1, atol=1e-6)


def test_edge_detector_passes_through_unchanged(batch, small_model):
    result = model_randomization_test(small_model, batch, edge_detector, None, seed=1)
    assert np.allclose(result.spearman, 1, atol=1e-6) and np.allclose(result.ssim, 1, atol=1e-6)


def test_groups_and_module_layers(batch, small_model):
    result = model_randomization_test(
        small_model, batch, "gradcam", [small_model.head_conv], layers_to_randomize=["fc", ["head_conv", "stem.0"]]
    )
    assert result.layers == ["fc", "head_conv+stem.0"] and result.spearman.shape == (2, 4)
    with pytest.raises(ValueError, match="nope"):
        model_randomization_test(small_model, batch, "gradcam", ["head_conv"], layers_to_randomize=["nope"])


def test_random_logit_separates_gradcam_from_edge_detector(batch, small_model):
    before = snapshot(small_model)
    cam = random_logit_test(small_model, batch, "gradcam", ["head_conv"], seed=0)
    edges = random_logit_test(small_model, batch, edge_detector, None, seed=0)
    assert_unchanged(small_model, before)
    assert all(c != r for c, r in zip(cam.classes, cam.random_classes))
    assert np.allclose(edges.spearman, 1) and np.allclose(edges.ssim, 1)
    assert cam.mean_spearman < edges.mean_spearman - 0.2 and cam.mean_ssim < edges.mean_ssim
