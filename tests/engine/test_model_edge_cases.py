"""Defects a user could hit, each pinned by a test that fails without its fix: stale cached maps after
the model changes, model dtypes, blank 1x1 maps, exact module names with brackets, swallowed model
errors, and errors that pointed the wrong way (int targets, targets returning None, TorchScript,
torch.compile, two threads on one model)."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest
import torch
from torch import nn

import camwidgets as cw
from camwidgets.engine.explainer import CaptureCache, Explainer
from camwidgets.engine.memory_layout import ChannelsLastForward
from camwidgets.engine.methods.registry import METHODS
from tests.conftest import Small, hook_count, seeded, tiny_vit

LAYER = ["head_conv"]


class ModelError(Exception):
    """An error of the model's own (not a shape or layout error)."""


def fresh_maps(model: nn.Module, batch: torch.Tensor, method: str = "gradcam") -> torch.Tensor:
    return Explainer(model, LAYER).compute(method, batch, [cw.ClassifierOutputTarget(1)] * len(batch))


# -- the capture cache notices every change of the model ---------------------------------------------


@pytest.mark.parametrize(
    "change",
    ["replace submodule", "load_state_dict assign", "data assignment", "in-place update", "new buffer tensor"],
)
def test_cached_maps_follow_every_change_of_the_model(change, small_batch):
    model = seeded(Small)
    cache = CaptureCache()
    explainer = Explainer(model, LAYER, cache=cache)
    targets = [cw.ClassifierOutputTarget(1)] * len(small_batch)
    before = explainer.compute("gradcam", small_batch, targets)
    torch.manual_seed(5)
    if change == "replace submodule":
        model.fc = nn.Linear(8, 5)
    elif change == "load_state_dict assign":
        other = seeded(Small, seed=7).state_dict()
        model.load_state_dict(other, assign=True)
    elif change == "data assignment":
        model.fc.weight.data = torch.randn_like(model.fc.weight)
    elif change == "in-place update":
        with torch.no_grad():
            model.fc.weight.mul_(-1)
    else:
        model.stem[1].running_mean = torch.randn(8)
    after = explainer.compute("gradcam", small_batch, targets)
    expected = fresh_maps(model, small_batch)
    assert cache.forward_passes == 2, "the changed model must get a new capture"
    torch.testing.assert_close(after, expected)
    assert (after - before).abs().max() > 1e-3  # the change matters to the map


def test_a_new_model_reusing_a_dead_models_id_never_hits(small_batch):
    cache = CaptureCache()
    targets = [cw.ClassifierOutputTarget(1)] * len(small_batch)
    seen: dict[int, torch.Tensor] = {}
    for seed in range(12):  # CPython reuses the id of a collected object quickly
        model = seeded(Small, seed=seed)
        maps = Explainer(model, LAYER, cache=cache).compute("gradcam", small_batch, targets)
        torch.testing.assert_close(maps, fresh_maps(model, small_batch))
        seen[id(model)] = maps
        del model
        gc.collect()
    assert cache.forward_passes == 12 and cache.hits == 0


def test_an_unchanged_model_still_hits(small_batch):
    model, cache = seeded(Small), CaptureCache()
    for method in ("gradcam", "layercam", "gradcam++"):
        Explainer(model, LAYER, cache=cache).compute(method, small_batch)
    assert cache.forward_passes == 1 and cache.hits == 2


# -- dtypes ---------------------------------------------------------------------------------------------


def _cam(name: str, model: nn.Module):
    spec = METHODS[name]
    layers = ["stem", "head_conv"] if name == "refinecam" else LAYER
    options = {} if name == "fullgrad" else {"progress": False}
    return getattr(cw, spec.class_name)(model, layers, **options)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float64], ids=["bfloat16", "float64"])
def test_every_method_runs_on_the_models_dtype_with_float32_maps(dtype):
    model = seeded(Small).to(dtype)
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1)).to(dtype)
    failures = {}
    vit, tokens = seeded(tiny_vit).to(dtype), torch.randn(2, 3, 32, 32).to(dtype)
    for name, spec in METHODS.items():
        try:
            if spec.needs_attention:
                maps = getattr(cw, spec.class_name)(vit, [vit.encoder])(tokens)
                maps = maps[:, ::2, ::2]  # 32 px inputs: the same shape check below
            else:
                maps = _cam(name, model)(x)
        except Exception as error:  # collected, so that one run names every method that fails
            failures[name] = f"{type(error).__name__}: {error}"
            continue
        if maps.dtype != np.float32 or maps.shape != (2, 16, 16) or not np.isfinite(maps).all():
            failures[name] = f"{maps.dtype} {maps.shape}"
    assert failures == {}
    dff = cw.DeepFeatureFactorization(model, "head_conv", computation_on_concepts=model.fc, progress=False)
    concepts, explanations, scores = dff(x, 3)
    assert scores.shape == (3, 5) and explanations.dtype == np.float32 and np.isfinite(scores).all()
    assert hook_count(model) == 0


def test_float64_maps_agree_with_float32(small_batch):
    model32 = seeded(Small)
    model64 = seeded(Small).double()
    for name in ("gradcam", "fullgrad", "sess", "scorecam"):
        ours = _cam(name, model64)(small_batch.double())
        reference = _cam(name, model32)(small_batch)
        np.testing.assert_allclose(ours, reference, atol=2e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="float16 convolutions need CUDA")
def test_every_method_runs_on_a_float16_model_on_cuda():
    model = seeded(Small).cuda().half()
    x = torch.randn(2, 3, 16, 16, device="cuda").half()
    for name, spec in METHODS.items():
        if not spec.needs_attention:
            maps = _cam(name, model)(x)
            assert maps.dtype == np.float32 and np.isfinite(maps).all(), name


# -- blank maps, names, swallowed errors ------------------------------------------------------------------


class Pooled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=4, padding=1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


def test_a_layer_with_a_single_position_is_a_blank_map_with_a_warning_in_the_drop_in_classes_and_an_error_elsewhere(
    tmp_path,
):
    model = seeded(Pooled)
    with pytest.warns(
        UserWarning, match=r"'pool' has a 1x1 output grid at this input size \(32x32\), so its map is blank"
    ):
        maps = cw.GradCAM(model, ["pool"])(torch.randn(2, 3, 32, 32))
    assert maps.shape == (2, 32, 32) and not maps.any()  # the reference's blank map
    with pytest.warns(UserWarning, match=r"'features.2' has a 1x1 output grid at this input size \(4x4\)"):
        assert not cw.EigenCAM(model, ["features.2"])(torch.randn(1, 3, 4, 4)).any()
    rows = []
    counter = model.fc.register_forward_hook(lambda module, inputs, output: rows.append(len(output)))
    with pytest.warns(UserWarning, match="so its map is blank"):
        assert not cw.ScoreCAM(model, ["pool"])(torch.randn(2, 3, 32, 32)).any()
    counter.remove()
    assert sum(rows) == 2 + 2  # the capture, then one zero image per image: every channel of a 1x1 grid has a zero mask
    assert cw.GradCAM(model, ["features.2"])(torch.randn(1, 3, 32, 32)).max() > 0  # 8x8 there: fine
    with pytest.raises(ValueError, match=r"'pool' has a 1x1 output grid .* would be blank"):
        cw.explain_dataset(
            model,
            [(x, 0) for x in torch.randn(2, 3, 32, 32)],
            out=tmp_path / "out",
            target_layers=["pool"],
            progress=False,
        )
    with pytest.raises(
        ValueError, match="cannot be explained: its output .* has no spatial grid: it comes after global pooling"
    ):
        cw.CAMExplorer(model, torch.randn(2, 3, 32, 32), target_layers=["pool"])
    assert hook_count(model) == 0


class Bracketed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.add_module("conv[0]", nn.Conv2d(3, 4, 3, padding=1))
        self.add_module("conv", nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)))
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        a, b = getattr(self, "conv[0]")(x), self.conv(x)
        return self.fc((a * 2 + b).mean(dim=(2, 3)))


def test_exact_module_names_resolve_first_even_with_brackets():
    model = seeded(Bracketed)
    exact = cw.engine.layers.resolve_target_layers(model, ["conv[0]"])
    assert exact == [("conv[0]", getattr(model, "conv[0]"))]
    indexed = cw.engine.layers.resolve_target_layers(model, ["conv.0"])  # the other module
    assert indexed[0][1] is model.conv[0]
    maps = cw.GradCAM(model, ["conv[0]"])(torch.randn(1, 3, 8, 8))
    assert maps.shape == (1, 8, 8)


class FailsOnCall(nn.Module):
    """Small's layers; the forward raises ModelError on the calls listed in ``failing``."""

    def __init__(self, failing: set[int]) -> None:
        super().__init__()
        self.inner = seeded(Small)
        self.failing, self.calls = failing, 0

    def forward(self, x):
        self.calls += 1
        if self.calls in self.failing:
            raise ModelError(f"the model failed on call {self.calls}")
        return self.inner(x)


def test_channels_last_forward_surfaces_the_models_own_error():
    model = FailsOnCall({1})
    with pytest.raises(ModelError, match="call 1"):
        ChannelsLastForward(model)(torch.randn(2, 3, 8, 8))
    assert model.calls == 1  # not silently retried


def test_channels_last_forward_still_falls_back_on_a_layout_error():
    class NeedsContiguous(nn.Module):
        def forward(self, x):
            return x.view(x.shape[0], -1)[:, :4]

    x = torch.randn(2, 3, 4, 4)
    forward = ChannelsLastForward(NeedsContiguous())
    torch.testing.assert_close(forward(x), x.reshape(2, -1)[:, :4])
    assert forward.channels_last is False


def test_ablation_probe_surfaces_the_models_own_error(small_batch):
    model = FailsOnCall({2})  # call 1: the capture; call 2: the prefix probe
    with pytest.raises(ModelError, match="call 2"):
        cw.AblationCAM(model, ["inner.head_conv"], progress=False)(small_batch)
    assert hook_count(model) == 0


# -- errors that say what to do ------------------------------------------------------------------------


def test_plain_int_targets_are_class_indices(small_model, small_batch):
    ints = cw.GradCAM(small_model, LAYER)(small_batch, targets=[1, 2, np.int64(3)])
    wrapped = cw.GradCAM(small_model, LAYER)(small_batch, targets=[cw.ClassifierOutputTarget(c) for c in (1, 2, 3)])
    np.testing.assert_array_equal(ints, wrapped)
    scored = cw.ScoreCAM(small_model, LAYER, progress=False)(small_batch, targets=[1, 2, 3])
    assert scored.shape == ints.shape
    with pytest.raises(TypeError, match="a target must be a callable .* or a class index; got str"):
        cw.GradCAM(small_model, LAYER)(small_batch, targets=["cat", "dog", "cow"])


def test_a_target_returning_none_is_named(small_model, small_batch):
    with pytest.raises(TypeError, match="returned NoneType for image 0; a target must return the score"):
        cw.GradCAM(small_model, LAYER)(small_batch, targets=[lambda output: None] * 3)
    assert hook_count(small_model) == 0


def test_torchscript_models_are_refused_with_the_way_out(small_model, small_batch):
    traced = torch.jit.trace(small_model, small_batch[:1])
    with pytest.raises(TypeError, match="TorchScript module .* Pass the original eager nn.Module"):
        cw.GradCAM(traced, ["head_conv"])
    scripted = torch.jit.script(seeded(Small))
    with pytest.raises(TypeError, match="TorchScript"):
        cw.GradCAM(scripted, None)
    with pytest.raises(TypeError, match="TorchScript"):
        cw.CAMExplorer(traced, small_batch)


def test_a_compiled_model_is_explained_through_its_original_module(small_model, small_batch):
    compiled = torch.compile(small_model)
    with pytest.warns(UserWarning, match="explaining 'head_conv'"):
        maps = cw.GradCAM(compiled, None)(small_batch)
    np.testing.assert_array_equal(maps, cw.GradCAM(small_model, LAYER)(small_batch))
    by_module = cw.GradCAM(compiled, [compiled.head_conv])(small_batch)
    np.testing.assert_array_equal(by_module, maps)
    assert hook_count(small_model) == 0


def test_two_threads_on_one_model_take_turns(small_model, small_batch):
    expected = {name: _cam(name, small_model)(small_batch) for name in ("gradcam", "ablationcam")}
    errors: list[BaseException] = []
    results: list[tuple[str, np.ndarray]] = []

    def work(name: str) -> None:
        try:
            for _ in range(8):
                results.append((name, _cam(name, small_model)(small_batch)))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("gradcam", "ablationcam", "gradcam")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(results) == 24
    for name, maps in results:
        np.testing.assert_allclose(maps, expected[name], atol=1e-6)
    assert hook_count(small_model) == 0
