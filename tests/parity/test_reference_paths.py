"""Every public name and module path of pytorch-grad-cam 1.5.7 exists in camwidgets, and behaves so.

The list of names is read from the installed reference itself (its modules' top-level
definitions, and what its package ``__init__`` files import), so the table in
``camwidgets.compat.dropin`` cannot drift from it unnoticed.
"""

from __future__ import annotations

import ast
import importlib
import pathlib

import numpy as np
import pytest
import torch
import torchvision

import camwidgets
from camwidgets.compat.dropin import REFERENCE_MODULES

from ..conftest import hook_count, import_reference
from .test_drop_in import REFERENCE_IMPORTS, run


def reference_public_names() -> dict[str, set[str]]:
    """{module path relative to the package: public names}, from the installed reference's source."""
    package = pathlib.Path(import_reference().__file__).parent
    names: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        tree = ast.parse(path.read_text())
        found: set[str] = set()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found.add(node.name)
            elif isinstance(node, ast.Assign):
                found |= {target.id for target in node.targets if isinstance(target, ast.Name)}
            elif relative.name == "__init__" and isinstance(node, ast.ImportFrom):
                found |= {alias.asname or alias.name for alias in node.names}
        names[".".join(parts)] = {name for name in found if not name.startswith("_")}
    return names


REFERENCE_NAMES = reference_public_names()


def test_the_table_lists_exactly_the_references_modules_and_names():
    top = REFERENCE_NAMES.pop("")
    assert set(REFERENCE_MODULES) == set(REFERENCE_NAMES)
    for path, names in REFERENCE_NAMES.items():
        assert set(REFERENCE_MODULES[path]) == names, path
    REFERENCE_NAMES[""] = top
    assert top <= set(camwidgets.__all__) | {"model_targets", "reshape_transforms", "cam_mult_image", "road"}


@pytest.mark.parametrize("path", sorted(REFERENCE_MODULES))
def test_every_reference_name_imports_from_its_path_and_from_the_top(path):
    module = importlib.import_module(f"camwidgets.{path}")
    for name in REFERENCE_MODULES[path]:
        value = getattr(module, name)
        if f"{path}.{name}" in REFERENCE_MODULES:
            assert value is importlib.import_module(f"camwidgets.{path}.{name}")
        else:
            assert value is getattr(camwidgets, name), (path, name)


def test_star_import_and_package_attributes():
    namespace: dict = {}
    exec("from camwidgets.utils.image import *", namespace)
    assert {"show_cam_on_image", "scale_cam_image", "scale_accross_batch_and_channels"} <= set(namespace)
    assert camwidgets.utils.model_targets.ClassifierOutputTarget is camwidgets.ClassifierOutputTarget
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("camwidgets.utils.no_such_module")
    with pytest.raises(AttributeError, match="has no attribute 'GradKAM'"):
        camwidgets.grad_cam.GradKAM  # noqa: B018


def test_a_module_path_named_like_one_of_our_functions_is_both(resnet, batch):
    import camwidgets.guided_backprop as module

    assert module.GuidedBackpropReLUModel is camwidgets.GuidedBackpropReLUModel
    gradients = camwidgets.guided_backprop(resnet, batch, [3, 4])  # still our function
    assert gradients.shape == (2, 96, 96, 3) and float(gradients.abs().sum()) > 0


@pytest.mark.parity
def test_a_plain_rename_of_the_package_runs_the_references_script(reference):
    theirs = run(REFERENCE_IMPORTS)
    ours = run(REFERENCE_IMPORTS.replace("pytorch_grad_cam", "camwidgets"))
    assert ours["GradCAM"] is camwidgets.GradCAM
    for name, expected in theirs["results"].items():
        assert np.abs(ours["results"][name] - expected).max() <= 1e-4, name


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


@pytest.fixture(scope="module")
def batch():
    return torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))


def max_gradient_cam(base):
    """A new method written the reference's documented way: subclass BaseCAM, give channel weights."""

    class MaxGradCAM(base):
        def __init__(self, model, target_layers, reshape_transform=None):
            super().__init__(model, target_layers, reshape_transform)

        def get_cam_weights(self, input_tensor, target_layer, targets, activations, grads):
            return np.max(grads, axis=(2, 3))

    return MaxGradCAM


def sign_of_gradient_cam(base):
    """A new method that overrides get_cam_image, gradient-free is not assumed."""

    class SignCAM(base):
        def get_cam_image(self, input_tensor, target_layer, targets, activations, grads, eigen_smooth=False):
            return (np.sign(grads) * activations).sum(axis=1)

    return SignCAM


@pytest.mark.parity
@pytest.mark.parametrize("make", [max_gradient_cam, sign_of_gradient_cam])
@pytest.mark.parametrize("eigen_smooth", [False, True])
def test_a_user_subclass_of_basecam_gives_the_references_maps(reference, resnet, batch, make, eigen_smooth):
    layers = [resnet.layer4[-1], resnet.layer3]
    targets = [camwidgets.ClassifierOutputTarget(3), camwidgets.ClassifierOutputTarget(7)]
    hooks = hook_count(resnet)
    ours = make(camwidgets.BaseCAM)(resnet, layers)(batch, targets, eigen_smooth=eigen_smooth)
    theirs = make(import_reference("pytorch_grad_cam.base_cam").BaseCAM)(resnet, layers)(
        batch, targets, eigen_smooth=eigen_smooth
    )
    assert ours.shape == (2, 96, 96) and ours.dtype == np.float32 and ours.std() > 0.01
    assert np.abs(ours - theirs).max() <= 1e-4
    assert hook_count(resnet) == hooks


@pytest.mark.parity
@pytest.mark.parametrize("name", ["GradCAM", "GradCAMPlusPlus", "XGradCAM", "LayerCAM", "HiResCAM", "EigenCAM"])
def test_get_cam_image_and_weights_have_the_references_signatures_and_values(reference, resnet, batch, name):
    recorder = camwidgets.ActivationsAndGradients(resnet, [resnet.layer4[-1]], None)
    with recorder:
        recorder(batch)[:, 3].sum().backward()
        activations, grads = recorder.activations[0].numpy(), recorder.gradients[0].numpy()
    resnet.zero_grad(set_to_none=True)
    ours, theirs = (
        getattr(camwidgets, name)(resnet, [resnet.layer4[-1]]),
        getattr(reference, name)(resnet, [resnet.layer4[-1]]),
    )
    layer = resnet.layer4[-1]
    got = ours.get_cam_image(batch, layer, None, activations, grads, False)
    expected = theirs.get_cam_image(batch, layer, None, activations, grads, False)
    scale = np.abs(expected).max()
    assert got.shape == expected.shape == (2, 3, 3) and np.abs(got - expected).max() <= 1e-5 * scale
    if name in ("GradCAM", "GradCAMPlusPlus", "XGradCAM"):
        weights = ours.get_cam_weights(batch, layer, None, activations, grads)
        np.testing.assert_allclose(
            weights, theirs.get_cam_weights(batch, layer, None, activations, grads), rtol=1e-4, atol=1e-7
        )
    else:
        with pytest.raises(NotImplementedError, match="override get_cam_weights"):
            ours.get_cam_weights(batch, layer, None, activations, grads)


@pytest.mark.parity
def test_activations_and_gradients_records_what_the_references_does(reference, resnet, batch):
    layers = [resnet.layer3, resnet.layer4]
    hooks = hook_count(resnet)
    ours, theirs = (
        camwidgets.ActivationsAndGradients(resnet, layers, None),
        reference.ActivationsAndGradients(resnet, layers, None),
    )
    outputs = ours(batch)
    assert len(ours.activations) == 2 and len(theirs.activations) == 2  # both hooked the same forward
    outputs[:, 5].sum().backward()
    for mine, its in zip(ours.activations + ours.gradients, theirs.activations + theirs.gradients):
        torch.testing.assert_close(mine, its)
    assert [g.shape[1] for g in ours.gradients] == [256, 512]
    ours.release()
    theirs.release()
    resnet.zero_grad(set_to_none=True)
    assert hook_count(resnet) == hooks


@pytest.mark.parity
def test_helpers_match_the_reference(reference):
    image = import_reference("pytorch_grad_cam.utils.image")
    svd = import_reference("pytorch_grad_cam.utils.svd_on_activations")
    rng = np.random.default_rng(0)
    two_d = rng.random((7, 9)).astype(np.float32)
    np.testing.assert_allclose(camwidgets.scale_cam_image(two_d), image.scale_cam_image(two_d), atol=1e-6)
    maps = rng.random((2, 3, 5, 6)).astype(np.float32)
    np.testing.assert_allclose(
        camwidgets.scale_accross_batch_and_channels(maps, (12, 10)),
        image.scale_accross_batch_and_channels(maps, (12, 10)),
        atol=1e-5,
    )
    rgb = (rng.random((20, 24, 3)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(
        camwidgets.sobel_cam(rgb), import_reference("pytorch_grad_cam.sobel_cam").sobel_cam(rgb)
    )
    activations = rng.normal(size=(2, 8, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(
        camwidgets.get_2d_projection_with_sign_correction(activations),
        svd.get_2d_projection_with_sign_correction(activations),
        atol=1e-4,
    )
    ours, theirs = camwidgets.get_2d_projection_kernel(activations), svd.get_2d_projection_kernel(activations)
    signs = np.sign((ours * theirs).reshape(2, -1).sum(axis=1))[:, None, None]  # kernel PCA's sign is arbitrary there
    np.testing.assert_allclose(ours, signs * theirs, atol=1e-4)
    sess = import_reference("pytorch_grad_cam.sess")
    assert camwidgets.sliding_window(300, 450, 100, 224) == sess.sliding_window(300, 450, 100, 224)
    road = import_reference("pytorch_grad_cam.metrics.road")
    assert camwidgets.neighbors_weights == road.neighbors_weights


def test_find_and_replace_layers():
    model = torchvision.models.resnet18(weights=None)
    found = camwidgets.find_layer_types_recursive(model, [torch.nn.ReLU])
    assert len(found) == 9 and all(type(layer) is torch.nn.ReLU for layer in found)
    assert len(camwidgets.find_layer_predicate_recursive(model, lambda layer: isinstance(layer, torch.nn.Conv2d))) == 20
    replacement = torch.nn.Identity()
    assert camwidgets.replace_layer_recursive(model, model.layer4[1].conv2, replacement)
    assert model.layer4[1].conv2 is replacement
    assert not camwidgets.replace_layer_recursive(model, torch.nn.ReLU(), replacement)
    camwidgets.replace_all_layer_type_recursive(model, torch.nn.ReLU, camwidgets.GuidedBackpropReLUasModule())
    assert not camwidgets.find_layer_types_recursive(model, [torch.nn.ReLU])
    x = torch.tensor([-1.0, 2.0, 3.0], requires_grad=True)
    y = camwidgets.GuidedBackpropReLU.apply(x)
    y.backward(torch.tensor([1.0, -1.0, 1.0]))
    assert y.tolist() == [0.0, 2.0, 3.0] and x.grad.tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parity
def test_boolean_maps_are_scored_as_the_reference_scores_them(reference, resnet, batch):
    metrics = import_reference("pytorch_grad_cam.metrics.cam_mult_image")
    maps = camwidgets.GradCAM(resnet, [resnet.layer4[-1]])(batch, None)
    thresholded = maps < np.percentile(maps, 75)
    targets = [camwidgets.ClassifierOutputTarget(3)] * 2
    ours = camwidgets.CamMultImageConfidenceChange()(batch, thresholded, targets, resnet)
    theirs = metrics.CamMultImageConfidenceChange()(batch, thresholded, targets, resnet)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    roads = camwidgets.ROADMostRelevantFirst(percentile=50)(batch, thresholded.astype(np.float32), targets, resnet)
    assert np.isfinite(roads).all()


def test_deliberate_differences_say_what_to_write(resnet, batch):
    with pytest.raises(TypeError, match=r"use_cuda was removed.*model.to\('cuda'\)"):
        camwidgets.GradCAM(resnet, [resnet.layer4[-1]], use_cuda=True)
    with pytest.raises(ValueError, match=r"explain only the first image.*targets \* 2"):
        camwidgets.GradCAM(resnet, [resnet.layer4[-1]])(batch, [camwidgets.ClassifierOutputTarget(3)])
    with pytest.raises(TypeError, match="subclass BaseCAM and override get_cam_weights"):
        camwidgets.BaseCAM(resnet, [resnet.layer4[-1]])
