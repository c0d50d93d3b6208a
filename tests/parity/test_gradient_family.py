"""Parity with grad-cam 1.5.7 for the gradient family, EigenCAM and EigenGradCAM.

Per model: batch 4 with every method with and without eigen_smooth; batch 1 with every method;
aug_smooth on batches 1 and 4 with a subset covering the three kinds of map (channel weights,
element-wise, SVD projection), since the augmentation path is shared by all methods. Ours come
from ONE shared capture per setting; the reference computes each separately.
Tolerance: max |ours - reference| <= 1e-4 on maps normalised to [0, 1].

Deliberate difference: the sign of SVD projections (EigenCAM, EigenGradCAM, eigen_smooth) is fixed
by our rule (largest-magnitude value positive); the reference's projection gets the same rule
(see conftest.reference_with_signed_projection) and is otherwise unchanged.

DenseNet's target is ``features.denseblock4``: after ``features`` (and ``features.norm5``) the
model applies an in-place ReLU, which the reference, on the CPU only, reads back into the saved
activation (it keeps a view, not a copy). We capture the layer's output as the module returned it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torchvision

import camwidgets as cw
from camwidgets.engine.methods import METHODS, single_capture_methods
from tests.conftest import seeded

TOLERANCE = 1e-4
# math on one capture's (A, G); RandomCAM is random in both libraries (a baseline), so it has no oracle
CLASS_NAMES = [METHODS[name].class_name for name in single_capture_methods() if name != "randomcam"]
IGNORES_EIGEN_SMOOTH = {"EigenCAM", "EigenGradCAM"}
AUG_SMOOTH_SUBSET = [("GradCAM", False), ("GradCAMPlusPlus", True), ("EigenCAM", False)]
# (batch size, aug_smooth, eigen_smooth settings or an explicit (method, eigen_smooth) list)
SETTINGS = {
    "b4": (4, False, None),
    "b1": (1, False, [(name, False) for name in CLASS_NAMES]),
    "b4-aug": (4, True, AUG_SMOOTH_SUBSET),
    "b1-aug": (1, True, [("LayerCAM", False)]),
}


def all_cases():
    return [
        (name, eigen) for eigen in (False, True) for name in CLASS_NAMES if not (eigen and name in IGNORES_EIGEN_SMOOTH)
    ]


MODELS = {
    # name: (factory, target layer names, image size)
    "resnet18": (torchvision.models.resnet18, ["layer4.1"], 64),
    "resnet18-two-layers": (torchvision.models.resnet18, ["layer3", "layer4.1"], 64),
    "vgg11": (torchvision.models.vgg11, ["features.19"], 64),
    "densenet121": (torchvision.models.densenet121, ["features.denseblock4"], 64),
    "mobilenet_v2": (torchvision.models.mobilenet_v2, ["features.18"], 64),
}


def compare_methods(reference, model, layers, batch, targets_ours, targets_ref, aug_smooth, cases=None):
    """Max abs difference per (method, eigen_smooth) between ours (one shared capture) and the reference."""
    cache = cw.CaptureCache()
    modules = [dict(model.named_modules())[name] for name in layers]
    differences = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for class_name, eigen_smooth in cases or all_cases():
            ours = getattr(cw, class_name)(model, layers, cache=cache)(batch, targets_ours, aug_smooth, eigen_smooth)
            theirs = getattr(reference, class_name)(model, modules)(batch, targets_ref, aug_smooth, eigen_smooth)
            assert ours.shape == theirs.shape == (batch.shape[0], *batch.shape[2:])
            assert ours.dtype == np.float32
            differences[(class_name, eigen_smooth)] = float(np.abs(ours - theirs).max())
    return differences, cache


def assert_within(differences):
    failing = {key: value for key, value in differences.items() if not value <= TOLERANCE}
    assert not failing, f"max |ours - reference| above {TOLERANCE}: {failing}"


@pytest.mark.parity
@pytest.mark.slow
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("model_name", list(MODELS))
def test_seeded_torchvision_models(reference, model_name, setting):
    factory, layers, size = MODELS[model_name]
    batch_size, aug_smooth, cases = SETTINGS[setting]
    model = seeded(factory)
    batch = torch.randn(batch_size, 3, size, size, generator=torch.Generator().manual_seed(1))
    differences, cache = compare_methods(reference, model, layers, batch, None, None, aug_smooth, cases)
    assert_within(differences)
    # one capture (with gradients) served all 8 methods x eigen_smooth settings
    assert cache.forward_passes == 1


@pytest.mark.parity
@pytest.mark.slow
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_pretrained_mobilenet_on_photos(reference, pretrained_mobilenet, photo_batch, setting):
    model, _ = pretrained_mobilenet
    batch_size, aug_smooth, cases = SETTINGS[setting]
    differences, _ = compare_methods(
        reference, model, ["features.18"], photo_batch[:batch_size], None, None, aug_smooth, cases
    )
    assert_within(differences)


@pytest.mark.parity
def test_pretrained_mobilenet_explicit_targets(reference, pretrained_mobilenet, photo_batch):
    """A second class per photo (not the top one): maps follow the target, identically to the reference."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget as ReferenceTarget

    model, _ = pretrained_mobilenet
    with torch.no_grad():
        second = model(photo_batch).argsort(dim=1, descending=True)[:, 1].tolist()
    differences, _ = compare_methods(
        reference,
        model,
        ["features.18"],
        photo_batch,
        [cw.ClassifierOutputTarget(c) for c in second],
        [ReferenceTarget(c) for c in second],
        False,
    )
    assert_within(differences)
    top = cw.GradCAM(model, ["features.18"])(photo_batch)
    other = cw.GradCAM(model, ["features.18"])(photo_batch, [cw.ClassifierOutputTarget(c) for c in second])
    assert np.abs(top - other).max() > 0.1, "a different target class must give a different map"
