"""Parity with grad-cam 1.5.7 for FullGrad, FEM, KPCA_CAM, ShapleyCAM, SegEigenCAM, EigenCAM,
EigenGradCAM, FinerCAM, RefineCAM and SESS, and RandomCAM's shape and range.

Seeded torchvision models at 32-64 px with a batch of 3 (biases and batch-norm statistics set to
seeded random values, so that FullGrad's bias terms are not all zero), and the pretrained
mobilenet_v2 on the four bundled photos. Ours run on the whole batch; the reference loops over
images inside SESS and the projections. Tolerance: max |ours - reference| <= 1e-4 on maps in [0, 1].

Deliberate difference: projection signs are fixed (largest-magnitude value positive); the reference
fixture applies the same rule to the reference's SVD projection, and FullGrad's module is given the
same patched projection here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torchvision

import camwidgets as cw
from tests.conftest import photo_tensor, seeded

TOLERANCE = 1e-4
pytestmark = pytest.mark.parity


def randomise_biases(model: torch.nn.Module, seed: int = 3) -> torch.nn.Module:
    """Seeded non-zero conv biases, batch-norm shifts and running statistics."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d) and module.bias is not None:
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
    return model


@pytest.fixture(scope="module")
def resnet():
    return randomise_biases(seeded(torchvision.models.resnet18))


@pytest.fixture(scope="module")
def vgg():
    return randomise_biases(seeded(torchvision.models.vgg11_bn))


@pytest.fixture(scope="module")
def batch64():
    return torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def reference_fullgrad(reference, monkeypatch):
    """The reference with FullGrad's eigen_smooth projection signed like ours."""
    import pytorch_grad_cam.fullgrad_cam as fullgrad_module

    monkeypatch.setattr(fullgrad_module, "get_2d_projection", reference.base_cam.get_2d_projection)
    return reference


def both(reference, class_name, model, layers, batch, targets=None, ref_targets=None, construct=None, call=None):
    """(ours, theirs) for the same class, constructor keywords and call keywords."""
    modules = [model.get_submodule(name) for name in layers]
    construct, call = construct or {}, call or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = getattr(cw, class_name)(model, layers, **construct)(batch, targets, **call)
        theirs = getattr(reference, class_name)(model, modules, **construct)(batch, ref_targets, **call)
    assert ours.shape == theirs.shape == (batch.shape[0], *batch.shape[2:])
    assert ours.dtype == np.float32
    return ours, theirs


def assert_parity(cases: dict):
    failing = {key: value for key, value in cases.items() if not value <= TOLERANCE}
    assert not failing, f"max |ours - reference| above {TOLERANCE}: {failing}"


def reference_targets(reference, ours):
    from pytorch_grad_cam.utils import model_targets

    return [getattr(model_targets, type(t).__name__)(t.category) for t in ours]


# (class, layers, constructor keywords, call keywords)
SEEDED_CASES = [
    ("FullGrad", [], {}, {}),
    ("FullGrad", [], {}, {"eigen_smooth": True}),
    ("FEM", ["layer3"], {"k": 1}, {}),
    ("FEM", ["layer2", "layer3"], {}, {"aug_smooth": True}),
    ("KPCA_CAM", ["layer3"], {}, {}),
    ("KPCA_CAM", ["layer2"], {"kernel": "rbf", "gamma": 0.01}, {}),
    ("KPCA_CAM", ["layer3"], {"kernel": "poly"}, {}),
    ("KPCA_CAM", ["layer3"], {"kernel": "cosine"}, {}),
    ("SegEigenCAM", ["layer3", "layer4"], {}, {}),
    ("EigenCAM", ["layer3"], {}, {}),
    ("EigenGradCAM", ["layer3"], {}, {}),
    ("ShapleyCAM", ["layer3"], {}, {}),
    ("ShapleyCAM", ["layer2"], {}, {"eigen_smooth": True}),
    ("FinerCAM", ["layer4"], {}, {}),
    ("FinerCAM", ["layer3"], {}, {"alpha": 0.5, "comparison_categories": [2, 5], "target_idx": 7}),
    ("RefineCAM", ["layer2", "layer3", "layer4"], {}, {}),
    ("SESS", ["layer4"], {"num_scales": 3, "batch_size": 8}, {}),
    (
        "SESS",
        ["layer3"],
        {
            "scales": [64, 80],
            "window_size": 48,
            "step_size": 24,
            "pre_filter_ratio": 0.3,
            "theta": 0.1,
            "batch_size": 5,
        },
        {},
    ),
    ("SESS", ["layer4"], {"num_scales": 2, "pool": "max", "smooth": False, "use_softmax_scores": False}, {}),
]


def test_seeded_resnet18(reference_fullgrad, resnet, batch64):
    """Every method and setting above, targets=None (top class), batch of 3 at 64 px."""
    differences = {}
    for class_name, layers, construct, call in SEEDED_CASES:
        ours, theirs = both(reference_fullgrad, class_name, resnet, layers, batch64, construct=construct, call=call)
        differences[(class_name, tuple(layers), str(construct), str(call))] = float(np.abs(ours - theirs).max())
    assert_parity(differences)


def test_shapley_with_softmax_and_rest_targets(reference, resnet, batch64):
    """A nonlinear target makes the Hessian term non-zero: ShapleyCAM then differs from GradCAM,
    and still matches the reference."""
    differences = {}
    for target_class in ("ClassifierOutputSoftmaxTarget", "ClassifierOutputReST"):
        targets = [getattr(cw, target_class)(c) for c in (3, 141, 998)]
        ours, theirs = both(
            reference, "ShapleyCAM", resnet, ["layer3"], batch64, targets, reference_targets(reference, targets)
        )
        differences[target_class] = float(np.abs(ours - theirs).max())
        gradcam = cw.GradCAM(resnet, ["layer3"])(batch64, targets)
        assert np.abs(ours - gradcam).max() > 1e-3, "the Hessian-vector term should change the map"
    assert_parity(differences)


def test_seeded_vgg11_bn_at_32px(reference_fullgrad, vgg):
    batch = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    differences = {}
    for class_name, layers, construct in [
        ("FullGrad", [], {}),
        ("FEM", ["features.21"], {}),
        ("KPCA_CAM", ["features.21"], {}),
        ("ShapleyCAM", ["features.21"], {}),
        ("SESS", ["features.27"], {"num_scales": 2, "batch_size": 16}),
    ]:
        ours, theirs = both(reference_fullgrad, class_name, vgg, layers, batch, construct=construct)
        differences[class_name] = float(np.abs(ours - theirs).max())
    assert_parity(differences)


def test_batch_equals_per_image_calls(resnet, batch64):
    """Our batched maps equal one call per image (the reference loops over images in places); one
    case per class, and SESS with pre-filtering (per-image patch ranking)."""
    firsts = {case[0]: case for case in reversed(SEEDED_CASES)}
    for class_name, layers, construct, call in [*firsts.values(), SEEDED_CASES[-2]]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cam = getattr(cw, class_name)(resnet, layers, progress=False, **construct)
            whole = cam(batch64, None, **call)
            single = np.concatenate([cam(batch64[i : i + 1], None, **call) for i in range(len(batch64))])
        assert np.abs(whole - single).max() <= TOLERANCE, (class_name, construct, call)


def test_random_cam_shape_and_range(reference, resnet, batch64):
    """RandomCAM is random in both libraries: same shape, dtype and [0, 1] range, and maps that
    differ from call to call unless seeded."""
    ours, theirs = both(reference, "RandomCAM", resnet, ["layer3"], batch64)
    for maps in (ours, theirs):
        peaks = maps.reshape(3, -1).max(axis=1)
        # min-max normalised, or all zero when the random weights make every position negative before the ReLU
        assert maps.min() >= 0 and maps.max() <= 1 and np.all(np.isclose(peaks, 1, atol=1e-5) | (peaks == 0)), peaks
    again = cw.RandomCAM(resnet, ["layer3"])(batch64)
    assert np.abs(ours - again).max() > 0.05


@pytest.fixture(scope="module")
def mobilenet_targets(pretrained_mobilenet, photo_batch):
    model, _ = pretrained_mobilenet
    with torch.no_grad():
        return model(photo_batch).argmax(dim=1).tolist()


def test_pretrained_mobilenet_on_photos(reference_fullgrad, pretrained_mobilenet, photo_batch, mobilenet_targets):
    """Real weights and photos: FullGrad (two photos at 112 px: the reference resizes every channel
    of every layer on the CPU, 30 s at 224 px), FEM, ShapleyCAM with the ReST target, FinerCAM,
    SegEigenCAM and KPCA_CAM."""
    model, _ = pretrained_mobilenet
    rest = [cw.ClassifierOutputReST(c) for c in mobilenet_targets]
    differences = {}
    for class_name, layers, images, targets in [
        ("FullGrad", [], torch.cat([photo_tensor(name, 112) for name in cw.photo_names()[:2]]), None),
        ("FEM", ["features.18"], photo_batch, None),
        ("ShapleyCAM", ["features.18"], photo_batch, rest),
        ("FinerCAM", ["features.18"], photo_batch, None),
        ("SegEigenCAM", ["features.18"], photo_batch, None),
        ("KPCA_CAM", ["features.17"], photo_batch, None),
    ]:
        ref_targets = reference_targets(reference_fullgrad, targets) if targets else None
        ours, theirs = both(reference_fullgrad, class_name, model, layers, images, targets, ref_targets)
        differences[class_name] = float(np.abs(ours - theirs).max())
    assert_parity(differences)
