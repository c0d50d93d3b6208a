"""The folded copy that runs the perturbation methods' and the metrics' forwards: the same outputs, made
once per unchanged model, never for a model it could not stand in for, dropped when it disagrees."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import camwidgets as cw
from camwidgets.engine import ChannelsLastForward, TwinForward, twin_of
from camwidgets.engine import inference_twin as twin_module  # the module (its function is twin_of)
from tests.conftest import Small, assert_unchanged, seeded, snapshot


def _x() -> torch.Tensor:
    return torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(4))


def test_the_twin_computes_the_models_function_and_is_kept_while_the_model_is_unchanged():
    model = seeded(Small)
    twin = twin_of(model)
    assert twin is not None and not any(isinstance(m, nn.BatchNorm2d) for m in twin.module.modules())
    with torch.no_grad():
        torch.testing.assert_close(twin.module(_x()), model(_x()), atol=1e-5, rtol=0)
    assert twin_of(model) is twin
    with torch.no_grad():
        model.stem[1].running_mean.add_(0.5)  # new statistics: a new twin
    fresh = twin_of(model)
    assert fresh is not twin
    with torch.no_grad():
        torch.testing.assert_close(fresh.module(_x()), model(_x()), atol=1e-5, rtol=0)


def test_no_twin_where_it_could_not_stand_in_for_the_model():
    model = seeded(Small)
    handle = model.head_conv.register_forward_hook(lambda module, inputs, output: output * 2)
    assert twin_of(model) is None  # the hook's effect would be missing
    handle.remove()
    assert twin_of(seeded(Small).train()) is None
    assert twin_of(seeded(Small).double()) is None
    assert twin_of(nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU())) is None  # nothing to fold


def test_a_twin_that_disagrees_is_dropped_and_the_models_output_given(monkeypatch):
    model = seeded(Small)
    monkeypatch.setattr(twin_module, "_TWINS", twin_module.weakref.WeakKeyDictionary())
    wrong = copy.deepcopy(model)
    with torch.no_grad():
        wrong.fc.bias.add_(1.0)
    monkeypatch.setattr("torch.fx.experimental.optimization.fuse", lambda module: wrong)
    forward = TwinForward(model, ChannelsLastForward(model))
    with torch.no_grad():
        torch.testing.assert_close(forward(_x()), model(_x()))
        assert twin_of(model) is None  # dropped for this model
        torch.testing.assert_close(TwinForward(model, model)(_x()), model(_x()))


def test_the_frozen_trace_runs_once_seen_to_agree_and_is_dropped_when_it_fails_or_disagrees(monkeypatch):
    model = seeded(Small)
    monkeypatch.setattr(twin_module, "_TWINS", twin_module.weakref.WeakKeyDictionary())
    forward = TwinForward(model, model)
    with torch.no_grad():
        torch.testing.assert_close(forward(_x()), model(_x()), atol=1e-5, rtol=0)
        assert isinstance(twin_of(model).traced, torch.jit.ScriptModule) and twin_of(model).agreed == {(3, 3, 16, 16)}
        torch.testing.assert_close(forward(_x()[:2]), model(_x()[:2]), atol=1e-5, rtol=0)  # a new shape, checked
        assert twin_of(model).agreed == {(3, 3, 16, 16), (2, 3, 16, 16)}

    def broken(images):
        raise RuntimeError("a shape baked into the trace")

    for trace, name in ((lambda images: model(images) + 1.0, "disagrees"), (broken, "fails")):
        monkeypatch.setattr(twin_module, "_TWINS", twin_module.weakref.WeakKeyDictionary())
        monkeypatch.setattr(twin_module, "_frozen_trace", lambda module, images, trace=trace: trace)
        forward = TwinForward(model, model)
        with torch.no_grad():
            torch.testing.assert_close(forward(_x()), model(_x()), atol=1e-5, rtol=0, msg=name)
        twin = twin_of(model)
        assert twin.traced is False and twin.module is not None and twin.agreed == {(3, 3, 16, 16)}, name


def test_scorecam_through_the_twin_equals_scorecam_through_the_model_and_leaves_it_as_it_was(monkeypatch):
    model = seeded(Small)
    x = _x()
    before = snapshot(model)
    folded = cw.ScoreCAM(model, ["head_conv"], progress=False)(x)
    assert twin_of(model) is not None and twin_of(model).verified
    monkeypatch.setattr(
        "camwidgets.engine.methods.perturbation.TwinForward", lambda model, forward, channels_last: forward
    )
    plain = cw.ScoreCAM(model, ["head_conv"], progress=False)(x)
    assert abs(folded - plain).max() < 1e-5
    assert_unchanged(model, before)


@pytest.mark.parametrize("metric", ["CamMultImageConfidenceChange", "ROADMostRelevantFirst"])
def test_the_metrics_score_through_the_twin_with_the_same_results(metric, monkeypatch):
    from camwidgets import metrics

    model = seeded(Small)
    x = _x()
    maps = cw.GradCAM(model, ["head_conv"])(x)
    targets = [cw.ClassifierOutputTarget(1)] * 3
    options = {"noise": 0.0} if metric.startswith("ROAD") else {}
    folded = getattr(metrics, metric)(**options)(x, maps, targets, model)
    monkeypatch.setattr("camwidgets.metrics.confidence.TwinForward", lambda model, forward: forward)
    plain = getattr(metrics, metric)(**options)(x, maps, targets, model)
    assert abs(folded - plain).max() < 1e-5
