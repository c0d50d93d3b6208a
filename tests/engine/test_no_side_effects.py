"""The engine leaves the model as it found it, explains clearly what was wrong with bad input,
does not grow memory over repeated calls, and reuses its capture instead of recomputing it."""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import camwidgets as cw
from tests.conftest import CountingForward, Small, assert_unchanged, hook_count, mixed_state, seeded, snapshot
from tests.conftest import small_batch as batch  # noqa: F401  (a fixture, used by name)
from tests.conftest import small_model as model  # noqa: F401  (a fixture, used by name)

GRADIENT_METHODS = [
    "GradCAM",
    "HiResCAM",
    "GradCAMElementWise",
    "GradCAMPlusPlus",
    "XGradCAM",
    "LayerCAM",
    "EigenGradCAM",
]


@pytest.mark.parametrize("method", GRADIENT_METHODS + ["EigenCAM"])
def test_model_left_as_found_after_success(model, batch, method):
    mixed_state(model)
    before = snapshot(model)
    maps = getattr(cw, method)(model, ["head_conv"])(batch)
    assert maps.shape == (3, 16, 16) and np.isfinite(maps).all()
    assert_unchanged(model, before)
    assert not batch.requires_grad and batch.grad is None and not batch._backward_hooks  # no tensor hooks


def test_computes_in_eval_mode_whatever_the_model_mode(model, batch):
    """Dropout and batch statistics do not act: a model in train mode gives the eval-mode maps."""
    eval_maps = cw.GradCAM(model, ["head_conv"])(batch)
    model.train()
    train_maps = cw.GradCAM(model, ["head_conv"])(batch)
    np.testing.assert_array_equal(eval_maps, train_maps)
    assert model.training


class Failing(Exception):
    pass


def test_model_left_as_found_when_the_model_raises(model, batch):
    mixed_state(model)
    before = snapshot(model)

    def explode(module, inputs, output):
        raise Failing("boom")

    handle = model.fc.register_forward_hook(explode)
    with pytest.raises(Failing):
        cw.GradCAM(model, ["head_conv"])(batch)
    handle.remove()
    assert_unchanged(model, before)


def test_model_left_as_found_when_a_target_raises(model, batch):
    mixed_state(model)
    before = snapshot(model)

    def bad_target(output):
        raise Failing("target")

    with pytest.raises(Failing):
        cw.GradCAM(model, ["head_conv"])(batch, [bad_target] * 3)
    assert_unchanged(model, before)


def test_works_inside_no_grad_and_inference_mode(model, batch):
    expected = cw.GradCAM(model, ["head_conv"])(batch)
    with torch.no_grad():
        inside_no_grad = cw.GradCAM(model, ["head_conv"])(batch)
        assert not torch.is_grad_enabled()
    with torch.inference_mode():
        inference_batch = batch.clone()
        inside_inference = cw.GradCAM(model, ["head_conv"])(inference_batch)
        assert torch.is_inference_mode_enabled()
    np.testing.assert_array_equal(expected, inside_no_grad)
    np.testing.assert_allclose(expected, inside_inference, atol=1e-6)


def test_inplace_relu_after_the_layer_does_not_change_the_capture(model, batch):
    """The target's output is followed by ReLU(inplace=True); the captured activation is the conv's
    output as returned (negative values kept)."""
    explainer = cw.Explainer(model, ["head_conv"])
    record = explainer.capture(batch).records[0]
    with torch.no_grad():
        expected = model.head_conv(model.stem(batch))
    assert (record.activation < 0).any()
    torch.testing.assert_close(record.activation, expected)


def test_backward_stops_at_the_target_layer(model, batch):
    """No gradient flows into modules before the earliest target layer."""
    seen = []
    handle = model.stem[0].register_full_backward_hook(lambda *args: seen.append(1))
    try:
        cw.GradCAM(model, ["head_conv"])(batch)
    finally:
        handle.remove()
    assert seen == []


def test_parameters_grad_never_written(model, batch):
    assert all(p.grad is None for p in model.parameters())
    cw.GradCAMPlusPlus(model, ["head_conv", "stem"])(batch)
    assert all(p.grad is None for p in model.parameters())


def test_no_memory_growth_over_repeated_calls(model, batch):
    cam = cw.GradCAM(model, ["head_conv"])

    def live_tensors() -> int:
        gc.collect()
        with warnings.catch_warnings():  # isinstance on some torch module proxies warns
            warnings.simplefilter("ignore")
            return sum(1 for obj in gc.get_objects() if isinstance(obj, torch.Tensor))

    for _ in range(5):
        cam(batch)
    baseline = live_tensors()
    for _ in range(300):
        cam(batch)
    assert live_tensors() <= baseline
    assert hook_count(model) == 0


# ----------------------------------------------------------------------------- errors


def expect_error(kind, match, model, call):
    before = snapshot(model)
    with pytest.raises(kind, match=match):
        call()
    assert_unchanged(model, before)


def test_wrong_layer_name_lists_close_matches(model):
    with pytest.raises(ValueError, match=r"'head_conv'") as info:
        cw.GradCAM(model, ["head_cnv"])
    assert "no module named 'head_cnv'" in str(info.value)


def test_layer_names_and_reference_indexing():
    net = seeded(torchvision.models.resnet18)
    by_index = cw.GradCAM(net, ["layer4[-1]"]).target_layer_names
    by_name = cw.GradCAM(net, ["layer4.1"]).target_layer_names
    by_module = cw.GradCAM(net, [net.layer4[-1]]).target_layer_names
    assert by_index == by_name == by_module == ["layer4.1"]
    with pytest.raises(ValueError, match="not a submodule"):
        cw.GradCAM(net, [nn.Conv2d(1, 1, 1)])


def test_wrong_input_rank(model, batch):
    expect_error(ValueError, r"unsqueeze\(0\)", model, lambda: cw.GradCAM(model, ["head_conv"])(batch[0]))


def test_nan_input(model, batch):
    bad = batch.clone()
    bad[0, 0, 0, 0] = float("nan")
    expect_error(ValueError, "NaN", model, lambda: cw.GradCAM(model, ["head_conv"])(bad))


def test_targets_length_mismatch(model, batch):
    expect_error(
        ValueError,
        "2 targets for a batch of 3",
        model,
        lambda: cw.GradCAM(model, ["head_conv"])(batch, [cw.ClassifierOutputTarget(1)] * 2),
    )


def test_class_index_out_of_range(model, batch):
    expect_error(
        ValueError,
        r"class index 5 is out of range .* 5 scores",
        model,
        lambda: cw.GradCAM(model, ["head_conv"])(batch, [cw.ClassifierOutputTarget(5)] * 3),
    )


def test_layer_without_spatial_output(model, batch):
    expect_error(ValueError, "no spatial grid", model, lambda: cw.GradCAM(model, ["fc"])(batch))


def test_layer_never_executed(batch):
    net = seeded(Small)
    net.unused = nn.Conv2d(8, 8, 1)
    expect_error(ValueError, "'unused' did not run", net, lambda: cw.GradCAM(net, ["unused"])(batch))


def test_layer_executed_twice(batch):
    class Twice(Small):
        def forward(self, x):
            x = self.act(self.head_conv(self.stem(x)))
            x = self.act(self.head_conv(x))
            return self.fc(x.mean(dim=(2, 3)))

    net = seeded(Twice)
    expect_error(ValueError, "'head_conv' ran 2 times", net, lambda: cw.GradCAM(net, ["head_conv"])(batch))


def test_unknown_option_gets_a_spelling_hint(model):
    with pytest.raises(TypeError, match="Did you mean 'normalise'"):
        cw.GradCAM(model, ["head_conv"], normalize="image")
    with pytest.raises(ValueError, match="normalise must be one of"):
        cw.GradCAM(model, ["head_conv"], normalise="sometimes")


def test_non_tensor_input(model):
    with pytest.raises(TypeError, match="torch.Tensor"):
        cw.GradCAM(model, ["head_conv"])(np.zeros((1, 3, 16, 16), dtype=np.float32))


# ----------------------------------------------------------------------------- outputs


class TupleOutput(Small):
    def forward(self, x):
        logits = super().forward(x)
        return logits, {"aux": logits * 2}


class ExtrasFirst(Small):
    def forward(self, x):
        logits = super().forward(x)
        return {"aux": logits * 2}, logits


def test_a_tuple_led_by_its_scores_needs_no_selector_other_outputs_do(batch):
    net = seeded(TupleOutput)
    with pytest.warns(UserWarning, match=r"output \(tuple\) holds its scores in output\[0\]"):
        unselected = cw.GradCAM(net, ["head_conv"])(batch)
    other = seeded(ExtrasFirst)
    expect_error(ValueError, "output_selector", other, lambda: cw.GradCAM(other, ["head_conv"])(batch))
    by_index = cw.GradCAM(net, ["head_conv"], output_selector=0)(batch)
    by_callable = cw.GradCAM(net, ["head_conv"], output_selector=lambda out: out[1]["aux"])(batch)
    plain = Small()
    plain.load_state_dict(net.state_dict())
    expected = cw.GradCAM(plain.eval(), ["head_conv"])(batch)
    np.testing.assert_allclose(by_index, expected, atol=1e-6)
    np.testing.assert_allclose(unselected, expected, atol=1e-6)
    np.testing.assert_allclose(by_callable, expected, atol=1e-5)  # 2 * logits: same map after normalisation


def test_as_tensor_stays_on_the_model_device(model, batch):
    maps = cw.GradCAM(model, ["head_conv"], as_tensor=True)(batch)
    assert isinstance(maps, torch.Tensor) and maps.device == next(model.parameters()).device
    assert maps.shape == (3, 16, 16)


def test_target_layers_none_suggests_and_warns(model, batch):
    cam = cw.GradCAM(model)
    with pytest.warns(UserWarning, match="explaining 'act'|explaining 'head_conv'"):
        cam(batch)
    assert cam.target_layer_names in (["act"], ["head_conv"])


def test_suggestions_on_torchvision_models():
    assert cw.suggest_target_layer(seeded(torchvision.models.resnet18)) == "layer4.1"
    assert cw.suggest_target_layer(seeded(torchvision.models.mobilenet_v2)) == "features.18"


# ----------------------------------------------------------------------------- cache


def test_several_methods_share_one_forward(model, batch):
    cache = cw.CaptureCache()
    with CountingForward(model) as counter:
        first = {name: getattr(cw, name)(model, ["head_conv"], cache=cache)(batch) for name in GRADIENT_METHODS}
        for name in GRADIENT_METHODS:
            getattr(cw, name)(model, ["head_conv"], cache=cache)(batch, eigen_smooth=True)
        cw.EigenCAM(model, ["head_conv"], cache=cache)(batch)
    assert counter.count == 1
    # and the cached results equal fresh computations
    for name, maps in first.items():
        np.testing.assert_array_equal(maps, getattr(cw, name)(model, ["head_conv"])(batch))


def test_cache_is_invalidated_by_changes(model, batch):
    cache = cw.CaptureCache()
    cam = cw.GradCAM(model, ["head_conv"], cache=cache)
    with CountingForward(model) as counter:
        cam(batch)
        cam(batch, [cw.ClassifierOutputTarget(0)] * 3)  # other targets
        cam(batch, aug_smooth=True)  # other batch (the augmented one)
        batch.mul_(1.5)  # input modified in place
        cam(batch)
        with torch.no_grad():
            model.fc.bias.add_(1.0)  # weights modified in place (as an optimizer step does)
        cam(batch)
        cam(batch)  # nothing changed: cached
    assert counter.count == 5 + 0  # aug_smooth runs its six copies in one forward


def test_compute_cams_runs_one_forward(model, batch):
    with CountingForward(model) as counter:
        maps = cw.compute_cams(model, batch, ["eigencam", "gradcam", "layercam"], ["head_conv"])
    assert counter.count == 1
    assert list(maps) == ["eigencam", "gradcam", "layercam"]
    np.testing.assert_array_equal(maps["gradcam"], cw.GradCAM(model, ["head_conv"])(batch))


def test_warning_free_on_plain_use(model, batch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cw.GradCAM(model, ["head_conv"])(batch)


def test_each_of_several_targets_is_each_targets_normalised_map_combined_by_maximum():
    net, x = seeded(Small), torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    from camwidgets.engine.explainer import Explainer
    from camwidgets.engine.targets import EachOf

    explainer = Explainer(net, ["head_conv"])
    parts = [cw.ClassifierOutputTarget(1), cw.ClassifierOutputTarget(3)]
    combined = explainer.compute("gradcam", x[:2], [EachOf(parts), EachOf([])])
    each = explainer.compute("gradcam", x[[0, 0]], parts)
    torch.testing.assert_close(combined[0], each.max(dim=0).values)
    assert not combined[1].any()  # no part: a blank map
    assert not torch.allclose(each[0], each[1], atol=0.05)
    with pytest.raises(TypeError, match="not a score"):
        EachOf(parts)(torch.zeros(5))
    assert hook_count(net) == 0
