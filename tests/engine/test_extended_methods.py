"""Known answers and reliability for FullGrad, FEM, KPCA_CAM, ShapleyCAM, RandomCAM, SegEigenCAM,
FinerCAM, RefineCAM, SESS and SmoothGradCAMpp (SmoothGradCAMpp has no reference implementation)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torchvision

import camwidgets as cw
from camwidgets.engine.methods import get_method
from camwidgets.engine.methods.sess import scaled_size, window_starts
from camwidgets.engine.smoothing import first_principal_component
from tests.conftest import assert_unchanged, mixed_state, seeded, snapshot


@pytest.fixture(scope="module")
def resnet():
    return seeded(torchvision.models.resnet18)


@pytest.fixture(scope="module")
def batch():
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))


def test_registry_entries():
    expected = {
        "fullgrad": ("gradient", True), "fem": ("gradient-free", False), "kpca_cam": ("gradient-free", False),
        "shapleycam": ("gradient", True), "randomcam": ("gradient-free", False), "segeigencam": ("gradient", True),
        "finercam": ("gradient", True), "refinecam": ("gradient", True), "sess": ("perturbation", True),
        "smoothgradcampp": ("gradient", True),
    }  # fmt: skip
    for name, (family, needs_gradients) in expected.items():
        spec = get_method(name)
        assert (spec.family, spec.needs_gradients) == (family, needs_gradients)
        assert spec.summary and spec.cost >= 1
        assert getattr(cw, spec.class_name).__doc__, f"{spec.class_name} has no docstring"
    assert get_method("sess").cost > get_method("smoothgradcampp").cost > get_method("gradcam").cost


# --- SmoothGradCAMpp -------------------------------------------------------------------------------


def test_smoothgradcampp_without_noise_is_gradcam_plusplus(resnet, batch):
    for layers in (["layer4"], ["layer3", "layer4"]):
        smooth = cw.SmoothGradCAMpp(resnet, layers, std=0, num_samples=2, progress=False)(batch, eigen_smooth=False)
        plain = cw.GradCAMPlusPlus(resnet, layers)(batch)
        assert np.abs(smooth - plain).max() <= 1e-6


def test_smoothgradcampp_is_repeatable_under_a_seed(resnet, batch):
    def run(**seed):
        return cw.SmoothGradCAMpp(resnet, ["layer3"], progress=False, **seed)(batch)

    first, again, other = run(seed=1), run(seed=1), run(seed=2)
    assert np.array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3
    torch.manual_seed(9)
    global_first = run()
    torch.manual_seed(9)
    assert np.array_equal(global_first, run())


def test_smoothgradcampp_points_at_the_object():
    """On the synthetic shapes with exact masks, the map's peak lies on (or within 4 px of) the
    object for nearly every image, like GradCAM's."""
    from camwidgets.data.shapes import make_shapes, normalise
    from camwidgets.data.shapes_cnn import SHAPES_CNN_LAYER, load_shapes_cnn

    model = load_shapes_cnn()
    shapes = make_shapes(40, seed=11)
    targets = [cw.ClassifierOutputTarget(int(label)) for label in shapes.labels]
    maps = cw.SmoothGradCAMpp(model, [SHAPES_CNN_LAYER], std=0.1, seed=0, progress=False)(
        normalise(shapes.images), targets
    )
    assert float(cw.pointing_game(maps, shapes.masks, tolerance=4).mean()) >= 0.9


def test_progress_reports_every_sample_and_cancels(small_model, small_batch):
    seen = []
    cw.SmoothGradCAMpp(small_model, ["head_conv"], num_samples=3, progress=lambda *step: seen.append(step))(small_batch)
    assert [done for done, _, _ in seen] == [1, 2, 3] and all(total == 3 for _, total, _ in seen)
    before = snapshot(small_model)
    with pytest.raises(cw.Cancelled):
        cw.SmoothGradCAMpp(small_model, ["head_conv"], num_samples=3, progress=lambda done, total, _: done < 2)(
            small_batch
        )
    assert_unchanged(small_model, before)


# --- known answers ---------------------------------------------------------------------------------


def test_shapley_equals_gradcam_when_the_score_is_piecewise_linear(resnet, batch):
    """ReLU network, logit target: the Hessian term vanishes, so ShapleyCAM is GradCAM (also with
    several layers, which the reference cannot do: it frees the graph after the first layer)."""
    for layers in (["layer3"], ["layer2", "layer4"]):
        shapley = cw.ShapleyCAM(resnet, layers)(batch)
        assert np.abs(shapley - cw.GradCAM(resnet, layers)(batch)).max() <= 1e-5


def test_shapley_leaves_no_graph_behind(resnet, batch):
    cam = cw.ShapleyCAM(resnet, ["layer3"], as_tensor=True)
    maps = cam(batch, [cw.ClassifierOutputSoftmaxTarget(1)] * 2)
    assert not maps.requires_grad and not cam.outputs.requires_grad
    assert cam.outputs.shape == (2, 1000)


def test_sess_with_one_whole_image_window_is_the_base_map(resnet, batch):
    """One scale equal to the image, one window covering it, no blur: the fused map is the base map."""
    for base in (cw.GradCAM, cw.LayerCAM):
        sess = cw.SESS(resnet, ["layer3"], base_method=base, scales=[64], smooth=False, progress=False)(batch)
        assert np.abs(sess - base(resnet, ["layer3"])(batch)).max() <= 1e-5


def test_sess_windows_and_scales():
    assert window_starts(100, 40, 40) == [0, 40, 60]
    assert window_starts(64, 64, 64) == [0]
    assert window_starts(10, 20, 3) == [0]  # a step past the end: no border window (as the reference)
    assert (
        scaled_size(64, 64, 80) == (80, 80)
        and scaled_size(60, 90, 80) == (80, 120)
        and scaled_size(90, 60, 80) == (120, 80)
    )


def test_refinecam_is_the_product_of_per_layer_maps(resnet, batch):
    layers = ["layer2", "layer3"]
    refined = cw.RefineCAM(resnet, layers, base_method=cw.GradCAM, as_tensor=True)(batch)
    product = torch.ones_like(refined)
    for layer in layers:
        product = product * cw.GradCAM(resnet, [layer], as_tensor=True)(batch)
    torch.testing.assert_close(refined, cw.engine.maps.normalise_per_image(product), atol=1e-5, rtol=0)


def test_wrappers_accept_run_based_base_methods_and_their_parameters(resnet, batch):
    refined = cw.RefineCAM(resnet, ["layer2", "layer3"], base_method=cw.FEM, k=1)(batch)
    product = cw.FEM(resnet, ["layer2"], k=1)(batch) * cw.FEM(resnet, ["layer3"], k=1)(batch)
    assert np.abs(refined - product / (product.reshape(2, -1).max(axis=1)[:, None, None] + 1e-7)).max() <= 1e-5
    finer = cw.FinerCAM(resnet, ["layer3"], base_method=cw.KPCA_CAM, kernel="rbf")(batch)
    assert np.abs(finer - cw.KPCA_CAM(resnet, ["layer3"], kernel="rbf")(batch)).max() <= 1e-6  # class-agnostic base


def test_finercam_with_explicit_targets_is_the_base_method(resnet, batch):
    targets = [cw.ClassifierOutputTarget(c) for c in (5, 6)]
    finer = cw.FinerCAM(resnet, ["layer4"])(batch, targets, alpha=0.3)
    assert np.abs(finer - cw.GradCAM(resnet, ["layer4"])(batch, targets)).max() <= 1e-6
    default = cw.FinerCAM(resnet, ["layer4"])(batch)
    assert np.abs(default - cw.GradCAM(resnet, ["layer4"])(batch)).max() > 1e-3, "the contrast should change the map"


def test_fullgrad_ignores_target_layers(resnet, batch):
    with pytest.warns(UserWarning, match="ignores target_layers"):
        with_layers = cw.FullGrad(resnet, [resnet.layer4])(batch)
    assert np.array_equal(with_layers, cw.FullGrad(resnet, [])(batch))
    assert len(cw.FullGrad(resnet, []).target_layer_names) == 20  # every BatchNorm2d of resnet18


def test_fem_known_answer():
    """Channel 0 has one outlier position (above mean + 1 std), channel 1 is constant (none):
    weights (1/4, 0), so the map is A_0 / 4 before normalisation."""
    activations = torch.tensor([[[[0.0, 0.0], [0.0, 8.0]], [[3.0, 3.0], [3.0, 3.0]]]])
    from camwidgets.engine.methods.activation import fem

    torch.testing.assert_close(fem(activations, k=1), activations[:, 0] / 4)


def test_projections_have_a_positive_peak():
    """EigenCAM, SegEigenCAM and KPCA-CAM's sign rule: each map's largest-magnitude value is positive."""
    from camwidgets.engine.methods.activation import kpca_projection

    activations = torch.randn(6, 16, 5, 5, generator=torch.Generator().manual_seed(0))
    for projection in (
        first_principal_component(activations),
        first_principal_component(-activations),
        kpca_projection(activations, kernel="rbf"),
    ):
        flat = projection.reshape(6, -1)
        assert bool((flat.amax(dim=1) >= flat.amin(dim=1).abs()).all())


def test_random_cam_seeds(resnet, batch):
    first = cw.RandomCAM(resnet, ["layer3"], seed=3)(batch)
    assert np.array_equal(first, cw.RandomCAM(resnet, ["layer3"], seed=3)(batch))
    assert np.abs(first - cw.RandomCAM(resnet, ["layer3"], seed=4)(batch)).max() > 0.05
    assert first.shape == (2, 64, 64) and first.min() >= 0 and first.max() <= 1


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda m: cw.SESS(m, ["head_conv"], pool="avg"), "pool must be"),
        (lambda m: cw.SESS(m, ["head_conv"], pre_filter_ratio=1.0), "pre_filter_ratio"),
        (lambda m: cw.SmoothGradCAMpp(m, ["head_conv"], num_samples=0), "num_samples"),
        (lambda m: cw.SmoothGradCAMpp(m, ["head_conv"], std=-1), "std"),
        (lambda m: cw.FinerCAM(m, ["head_conv"], base_method="gradcamm"), "Did you mean"),
        (lambda m: cw.RefineCAM(m, ["head_conv"], base_method=cw.FEM, kk=1), "takes k"),
    ],
)
def test_bad_parameters_are_refused_at_construction(small_model, make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(small_model)


def test_bad_calls_raise_clear_errors(small_model, small_batch):
    with pytest.raises(ValueError, match="two or more target layers"):
        cw.RefineCAM(small_model, ["head_conv"])(small_batch)
    with pytest.raises(ValueError, match="kernel must be one of"):
        cw.KPCA_CAM(small_model, ["head_conv"], kernel="gaussian")(small_batch)
    with pytest.raises(ValueError, match="at least the window size"):
        cw.SESS(small_model, ["head_conv"], scales=[8])(small_batch)


# --- the model is left as it was -------------------------------------------------------------------

RELIABILITY_CASES = {
    "FullGrad": lambda m, **o: cw.FullGrad(m, [], **o),
    "ShapleyCAM": lambda m, **o: cw.ShapleyCAM(m, ["head_conv"], **o),
    "FEM": lambda m, **o: cw.FEM(m, ["head_conv"], **o),
    "KPCA_CAM": lambda m, **o: cw.KPCA_CAM(m, ["head_conv"], **o),
    "SegEigenCAM": lambda m, **o: cw.SegEigenCAM(m, ["head_conv"], **o),
    "FinerCAM": lambda m, **o: cw.FinerCAM(m, ["head_conv"], **o),
    "RefineCAM": lambda m, **o: cw.RefineCAM(m, ["stem", "head_conv"], **o),
    "SESS": lambda m, **o: cw.SESS(m, ["head_conv"], num_scales=2, batch_size=4, **o),
    "SmoothGradCAMpp": lambda m, **o: cw.SmoothGradCAMpp(m, ["head_conv"], **o),
}


@pytest.mark.parametrize("name", list(RELIABILITY_CASES))
def test_model_unchanged_after_success_error_and_cancel(small_model, small_batch, name):
    mixed_state(small_model)
    before = snapshot(small_model)
    make = RELIABILITY_CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        maps = make(small_model, progress=False)(small_batch)
    assert maps.shape == (3, 16, 16) and np.isfinite(maps).all()
    assert_unchanged(small_model, before)
    with pytest.raises(ValueError, match="out of range"):
        make(small_model, progress=False)(small_batch, [cw.ClassifierOutputTarget(99)] * 3)
    assert_unchanged(small_model, before)
    if get_method(make(small_model).method).name in ("sess", "smoothgradcampp"):
        with pytest.raises(cw.Cancelled):
            make(small_model, progress=lambda *step: False)(small_batch)
        assert_unchanged(small_model, before)
