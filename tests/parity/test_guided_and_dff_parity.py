"""Parity with grad-cam 1.5.7: guided backpropagation (seeded torchvision models and the pretrained
mobilenet_v2 with the bundled photos) and Deep Feature Factorization (reconstruction error against
the reference's scikit-learn NMF, concept maps matched up to permutation, and our multiplicative
updates step for step against scikit-learn's on the same initialisation)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torchvision
from scipy.optimize import linear_sum_assignment

import camwidgets as cw
from camwidgets.engine.factorization import (
    _initial_factors,
    deep_feature_factorization,
    non_negative_factorization,
    reconstruction_error,
)
from camwidgets.engine.guided import GuidedBackpropReLUModel, guided_backprop
from tests.conftest import import_reference, seeded

pytestmark = pytest.mark.parity


def reference_guided(reference, model, images, categories) -> np.ndarray:
    """The reference, one image at a time, on a copy of the model (it swaps ReLUs, sets eval mode
    and accumulates .grad) and of each image (it sets requires_grad on it)."""
    copied = copy.deepcopy(model)
    return np.stack(
        [
            reference.GuidedBackpropReLUModel(copied)(images[i : i + 1].clone(), category)
            for i, category in enumerate(categories)
        ]
    )


def assert_guided_match(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Max |difference| <= 1e-4 of the gradients scaled by the reference's largest magnitude, and
    the displayed images (deprocess_image) within one grey level."""
    scale = np.abs(theirs).max()
    assert scale > 0
    assert np.abs(ours - theirs).max() / scale <= 1e-4
    for mine, expected in zip(ours, theirs):
        shown = cw.deprocess_image(mine).astype(int) - cw.deprocess_image(expected).astype(int)
        assert np.abs(shown).max() <= 1


@pytest.mark.parametrize("factory, size", [(torchvision.models.resnet18, 48), (torchvision.models.squeezenet1_1, 64)])
def test_guided_backprop_on_seeded_models(reference, factory, size):
    model = seeded(factory, num_classes=10)
    images = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(1))
    categories = [3, 7, 3]
    theirs = reference_guided(reference, model, images, categories)
    ours = guided_backprop(model, images, categories).numpy()
    assert ours.shape == theirs.shape == (3, size, size, 3)
    assert_guided_match(ours, theirs)
    assert_guided_match(GuidedBackpropReLUModel(model)(images[1:2], 7)[None], theirs[1:2])


def test_guided_backprop_on_pretrained_mobilenet_with_photos(reference, pretrained_mobilenet, photo_batch):
    """mobilenet_v2 has ReLU6 modules only, which the reference does not guide: both give the plain
    input gradient of each photo's top class."""
    model, _ = pretrained_mobilenet
    with torch.no_grad():
        top = model(photo_batch).argmax(dim=1).tolist()
    theirs = reference_guided(reference, model, photo_batch, [None] * len(top))
    ours = guided_backprop(model, photo_batch).numpy()
    assert_guided_match(ours, theirs)
    torch.testing.assert_close(torch.from_numpy(ours), guided_backprop(model, photo_batch, top).cpu(), rtol=0, atol=0)


def flatten_activations(activations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """V (C, B*h*w) and the channel minima, as DFF builds them."""
    flat = activations.transpose(0, 1).reshape(activations.shape[1], -1)
    offset = flat.amin(dim=1, keepdim=True)
    return flat - offset, offset


def dff_error(activations: torch.Tensor, concepts: np.ndarray | torch.Tensor, maps: np.ndarray | torch.Tensor) -> float:
    """||V - (concepts - m) H||_F for raw concept maps (B, K, h, w)."""
    V, offset = flatten_activations(activations)
    W = torch.as_tensor(concepts, dtype=torch.float64) - offset.double()
    maps = torch.as_tensor(maps, dtype=torch.float64)
    H = maps.transpose(0, 1).reshape(maps.shape[1], -1)
    return float(reconstruction_error(V.double(), W, H))


def assert_dff_error_within_reference(activations: torch.Tensor, n_components: int) -> None:
    reference_dff = import_reference("pytorch_grad_cam.feature_factorization.deep_feature_factorization").dff
    their_concepts, their_maps = reference_dff(activations.numpy().copy(), n_components=n_components)
    our_concepts, our_maps = deep_feature_factorization(activations, n_components)
    theirs, ours = dff_error(activations, their_concepts, their_maps), dff_error(activations, our_concepts, our_maps)
    assert ours <= 1.05 * theirs, (ours, theirs)
    assert ours < 0.9 * float(
        torch.linalg.matrix_norm(flatten_activations(activations)[0].double())
    )  # it explains something


@pytest.fixture(scope="module")
def mobilenet_activations(pretrained_mobilenet, photo_batch) -> torch.Tensor:
    model, _ = pretrained_mobilenet
    with torch.no_grad():
        return model.features(photo_batch)


@pytest.mark.parametrize("n_components", [2, 5, 12])
def test_dff_reconstruction_on_pretrained_mobilenet_photos(mobilenet_activations, n_components):
    assert_dff_error_within_reference(mobilenet_activations, n_components)


@pytest.mark.filterwarnings("ignore:Maximum number of iterations")
def test_dff_reconstruction_on_seeded_resnet():
    model = seeded(torchvision.models.resnet18, num_classes=10)
    with torch.no_grad():
        images = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(5))
        activations = model.layer3(
            model.layer2(model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(images))))))
        )
    assert activations.shape == (4, 256, 4, 4)
    for n_components in (3, 6):
        assert_dff_error_within_reference(activations, n_components)


def test_dff_class_matches_reference_maps_up_to_permutation(reference, pretrained_mobilenet, photo_batch):
    model, _ = pretrained_mobilenet
    n_components = 5
    their_concepts, their_maps, their_outputs = reference.DeepFeatureFactorization(
        model, model.features[-1], computation_on_concepts=model.classifier
    )(photo_batch, n_components)
    our_concepts, our_maps, our_outputs = cw.DeepFeatureFactorization(
        model, model.features[-1], computation_on_concepts=model.classifier, progress=False
    )(photo_batch, n_components)
    their_maps = np.stack(their_maps)
    assert (
        our_concepts.shape == their_concepts.shape
        and our_maps.shape == their_maps.shape
        and our_outputs.shape == their_outputs.shape
    )
    theirs = their_maps.transpose(1, 0, 2, 3).reshape(n_components, -1)
    ours = our_maps.transpose(1, 0, 2, 3).reshape(n_components, -1)
    correlation = np.corrcoef(theirs, ours)[:n_components, n_components:]
    rows, columns = linear_sum_assignment(-correlation)
    assert correlation[rows, columns].min() >= 0.85, correlation[rows, columns]
    # matched concepts name the same top class
    assert (their_outputs[rows].argmax(axis=1) == our_outputs[columns].argmax(axis=1)).mean() >= 0.6


@pytest.mark.parametrize("source", ["mobilenet", "random"])
def test_multiplicative_updates_match_scikit_learn_on_the_same_init(source, mobilenet_activations):
    from sklearn.decomposition import NMF

    if source == "mobilenet":
        V = flatten_activations(mobilenet_activations)[0].double()
    else:
        V = torch.rand(30, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    n_components, iterations = 4, 50
    W0, H0 = (factor[0] for factor in _initial_factors(V[None], n_components, seed=0))
    sklearn_nmf = NMF(n_components, init="custom", solver="mu", max_iter=iterations, tol=0)
    W_expected = sklearn_nmf.fit_transform(V.numpy(), W=W0.numpy().copy(), H=H0.numpy().copy())
    W, H = non_negative_factorization(V, n_components, iterations=iterations, tolerance=0, seed=0)
    np.testing.assert_allclose(W.numpy(), W_expected, rtol=1e-6, atol=1e-9 * np.abs(W_expected).max())
    np.testing.assert_allclose(H.numpy(), sklearn_nmf.components_, rtol=1e-6, atol=1e-9 * np.abs(H.numpy()).max())
