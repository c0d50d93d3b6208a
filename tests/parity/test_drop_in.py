"""Code written for pytorch-grad-cam 1.5.x runs after changing only its imports.

The same script (the reference's documented usage: context manager, keyword arguments, targets,
``cam.outputs``, ``show_cam_on_image``, ``preprocess_image``, ``deprocess_image``,
``scale_cam_image``, a reshape transform) runs once with the reference's imports and once with ours.
"""

from __future__ import annotations

import numpy as np
import pytest

import camwidgets

REFERENCE_IMPORTS = """
from pytorch_grad_cam import GradCAM, HiResCAM, GradCAMElementWise, GradCAMPlusPlus, XGradCAM, LayerCAM, EigenCAM, EigenGradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget, ClassifierOutputSoftmaxTarget
from pytorch_grad_cam.utils.image import show_cam_on_image, preprocess_image, deprocess_image, scale_cam_image
"""

OUR_IMPORTS = """
from camwidgets import GradCAM, HiResCAM, GradCAMElementWise, GradCAMPlusPlus, XGradCAM, LayerCAM, EigenCAM, EigenGradCAM
from camwidgets import ClassifierOutputTarget, ClassifierOutputSoftmaxTarget
from camwidgets import show_cam_on_image, preprocess_image, deprocess_image, scale_cam_image
"""

SCRIPT = """
import numpy as np
import torch
import torchvision

torch.manual_seed(0)
model = torchvision.models.resnet18(weights=None)
target_layers = [model.layer4[-1]]
rng = np.random.default_rng(0)
rgb_img = np.float32(rng.random((64, 64, 3)))
input_tensor = preprocess_image(rgb_img, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
input_tensor = input_tensor.repeat(2, 1, 1, 1)
targets = [ClassifierOutputTarget(281), ClassifierOutputSoftmaxTarget(3)]

results = {}
for cam_class in [GradCAM, HiResCAM, GradCAMElementWise, GradCAMPlusPlus, XGradCAM, LayerCAM, EigenGradCAM]:
    with cam_class(model=model, target_layers=target_layers) as cam:
        grayscale_cam = cam(input_tensor=input_tensor, targets=targets)
        results[cam_class.__name__] = grayscale_cam
        outputs = cam.outputs
cam = EigenCAM(model, target_layers)
results["EigenCAM"] = cam(input_tensor, targets=None)
visualization = show_cam_on_image(rgb_img, results["GradCAM"][0, :], use_rgb=True)
scaled = scale_cam_image(results["GradCAM"], (32, 48))
gradient_image = deprocess_image(rng.normal(size=(64, 64, 3)))
"""


def run(imports: str) -> dict:
    namespace: dict = {}
    exec(compile(imports + SCRIPT, "<drop-in script>", "exec"), namespace)
    return namespace


@pytest.mark.parity
def test_reference_script_runs_with_our_imports(reference):
    theirs, ours = run(REFERENCE_IMPORTS), run(OUR_IMPORTS)
    assert set(ours["results"]) == set(theirs["results"]) and len(ours["results"]) == 8
    for name, expected in theirs["results"].items():
        got = ours["results"][name]
        assert type(got) is np.ndarray and got.dtype == np.float32 and got.shape == expected.shape == (2, 64, 64)
        assert np.abs(got - expected).max() <= 1e-4, name
    np.testing.assert_allclose(
        ours["outputs"].detach().numpy(), theirs["outputs"].detach().numpy(), rtol=1e-5, atol=1e-5
    )
    assert np.abs(ours["visualization"].astype(int) - theirs["visualization"].astype(int)).max() <= 1
    assert ours["scaled"].shape == theirs["scaled"].shape == (2, 48, 32)
    np.testing.assert_array_equal(ours["gradient_image"], theirs["gradient_image"])


def test_every_public_name_imports():
    missing = [name for name in camwidgets.__all__ if getattr(camwidgets, name, None) is None]
    assert not missing
    assert "GradCAM" in dir(camwidgets)
    with pytest.raises(AttributeError, match="no attribute 'GradKAM'"):
        camwidgets.GradKAM  # noqa: B018
