"""Guided backpropagation and Guided Grad-CAM: known answers, batching, targets, functional ReLUs,
and a model left exactly as it was (modules, flags, hooks, modes, grads, the torch function stack)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import camwidgets as cw
from camwidgets.engine.guided import GuidedBackpropReLUModel, guided_backprop, guided_gradcam, guided_relus
from tests.conftest import Small, assert_unchanged, mixed_state, seeded, snapshot


class TwoUnits(nn.Module):
    """score = w2 . act(W1 x) for a two-channel, one-pixel input (B, 2, 1, 1); W1 = I."""

    def __init__(self, w2=(1.0, -1.0), functional: bool = False, inplace: bool = False) -> None:
        super().__init__()
        self.first = nn.Linear(2, 2, bias=False)
        self.second = nn.Linear(2, 1, bias=False)
        self.act = nn.ReLU(inplace=inplace)
        self.functional = functional
        with torch.no_grad():
            self.first.weight.copy_(torch.eye(2))
            self.second.weight.copy_(torch.tensor([w2]))

    def forward(self, x):
        hidden = self.first(x.flatten(1))
        hidden = F.relu(hidden) if self.functional else self.act(hidden)
        return self.second(hidden)


def column(*values: float) -> torch.Tensor:
    return torch.tensor([values], dtype=torch.float32).reshape(1, len(values), 1, 1)


@pytest.mark.parametrize("functional", [False, True])
def test_known_answer_only_positive_gradients_through_active_units(functional):
    """d/dx of x1 - x2 through a ReLU: plain gradient (1, -1); guided keeps only the positive path (1, 0)."""
    model = TwoUnits(functional=functional).eval()
    guided = guided_backprop(model, column(2.0, 3.0), [0])
    assert guided.shape == (1, 1, 1, 2)
    np.testing.assert_array_equal(guided.reshape(-1).numpy(), [1.0, 0.0])
    inactive = guided_backprop(model, column(-2.0, 3.0), [0])  # the positive path's unit is off
    np.testing.assert_array_equal(inactive.reshape(-1).numpy(), [0.0, 0.0])
    x = column(2.0, 3.0).requires_grad_(True)
    model(x).sum().backward()
    np.testing.assert_array_equal(x.grad.reshape(-1).numpy(), [1.0, -1.0])  # the plain gradient really differs


def test_relu6_guided_only_when_asked():
    class Six(TwoUnits):
        def forward(self, x):
            return self.second(F.relu6(self.first(x.flatten(1))))

    model = Six().eval()
    x = column(2.0, 3.0)
    np.testing.assert_array_equal(guided_backprop(model, x, [0]).reshape(-1).numpy(), [1.0, -1.0])
    np.testing.assert_array_equal(guided_backprop(model, x, [0], relu6=True).reshape(-1).numpy(), [1.0, 0.0])
    saturated = guided_backprop(model, column(7.0, 3.0), [0], relu6=True)  # above 6 the unit passes nothing
    np.testing.assert_array_equal(saturated.reshape(-1).numpy(), [0.0, 0.0])


class FunctionalSmall(Small):
    """Small with functional ReLUs (one in place, one as a tensor method) instead of its modules."""

    def forward(self, x):
        stem = self.stem[1](self.stem[0](x))
        x = F.relu(stem, inplace=True)
        x = self.head_conv(x).relu()
        return self.fc(self.drop(x).mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(4))


def test_functional_relus_are_guided_like_modules(images):
    modules, functional = seeded(Small), seeded(FunctionalSmall)
    expected = guided_backprop(modules, images, [0, 1, 2])
    got = guided_backprop(functional, images, [0, 1, 2])
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert (expected < 0).any() and (expected > 0).any()


def test_batch_equals_per_image_calls_with_per_image_targets(images):
    model = seeded(Small)
    targets = [cw.ClassifierOutputTarget(4), 1, cw.ClassifierOutputSoftmaxTarget(2)]
    batched = guided_backprop(model, images, targets)
    for index, target in enumerate(targets):
        single = guided_backprop(model, images[index : index + 1], [target])
        torch.testing.assert_close(batched[index : index + 1], single, rtol=1e-5, atol=1e-7)
    assert not torch.allclose(batched[0], guided_backprop(model, images[:1], [3])[0])  # the target matters


def test_default_target_is_each_images_top_class(images):
    model = seeded(Small)
    top = model(images).argmax(dim=1).tolist()
    torch.testing.assert_close(guided_backprop(model, images), guided_backprop(model, images, top), rtol=0, atol=0)


def test_reference_style_class_single_and_batched(images):
    model = seeded(Small)
    wrapper = GuidedBackpropReLUModel(model, device="cpu")
    single = wrapper(images[:1], 2)
    assert isinstance(single, np.ndarray) and single.shape == (16, 16, 3) and single.dtype == np.float32
    np.testing.assert_array_equal(single, guided_backprop(model, images[:1], [2])[0].numpy())
    batched = wrapper(images, [2, 0, 1])
    assert batched.shape == (3, 16, 16, 3)
    np.testing.assert_allclose(batched[0], single, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(
        wrapper(images, 2)[1], guided_backprop(model, images[1:2], [2])[0].numpy(), rtol=1e-4, atol=1e-9
    )


def test_guided_gradcam_multiplies_and_keeps_the_kind(images):
    guided = guided_backprop(seeded(Small), images)
    cam = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    product = guided_gradcam(cam, guided)
    assert isinstance(product, torch.Tensor) and product.shape == (3, 16, 16, 3)
    torch.testing.assert_close(product, cam[..., None] * guided)
    as_array = guided_gradcam(cam.numpy(), guided.numpy())
    assert isinstance(as_array, np.ndarray)
    np.testing.assert_allclose(as_array, product.numpy(), rtol=1e-6)
    np.testing.assert_allclose(guided_gradcam(cam[0].numpy(), guided[0].numpy()), as_array[0], rtol=1e-6)
    with pytest.raises(ValueError, match="matching guided"):
        guided_gradcam(cam[:, :8], guided)


def relu_modules(model: nn.Module) -> list[tuple[nn.Module, bool]]:
    return [(module, module.inplace) for module in model.modules() if isinstance(module, nn.ReLU)]


def assert_relus_plain() -> None:
    """No guided mode left behind: F.relu backpropagates negative gradients again."""
    assert torch._C._len_torch_function_stack() == 0
    x = torch.tensor([1.0], requires_grad=True)
    (-F.relu(x)).sum().backward()
    assert x.grad.item() == -1.0


def test_model_left_exactly_as_found_after_success(images):
    model = seeded(Small)
    mixed_state(model)
    relus = relu_modules(model)
    before = snapshot(model)
    images_before = images.clone()
    guided_backprop(model, images)
    GuidedBackpropReLUModel(model)(images[:1])
    assert_unchanged(model, before)
    assert relu_modules(model) == relus and all(inplace for _, inplace in relus)
    assert [module for module in model.modules() if isinstance(module, nn.ReLU)] == [m for m, _ in relus]
    assert torch.equal(images, images_before) and not images.requires_grad and images.grad is None
    assert_relus_plain()


class Failing(Exception):
    pass


def test_model_left_exactly_as_found_when_the_forward_raises(images):
    model = seeded(Small)
    mixed_state(model)
    relus = relu_modules(model)
    before = snapshot(model)

    def explode(module, inputs, output):
        raise Failing("inside the guided forward")

    handle = model.fc.register_forward_hook(explode)
    with pytest.raises(Failing):
        guided_backprop(model, images)
    handle.remove()
    assert_unchanged(model, before)
    assert relu_modules(model) == relus
    assert_relus_plain()


def test_guided_mode_ends_with_its_context_also_on_error():
    with pytest.raises(Failing):
        with guided_relus():
            assert torch._C._len_torch_function_stack() == 1
            raise Failing
    assert_relus_plain()


def test_bad_input_is_explained(images):
    model = seeded(Small)
    before = snapshot(model)
    with pytest.raises(ValueError, match="one target per image"):
        guided_backprop(model, images, [0, 1])
    with pytest.raises(ValueError, match="out of range"):
        guided_backprop(model, images, [0, 1, 99])
    with pytest.raises(ValueError, match=r"shape \(B, C, H, W\).*image.unsqueeze\(0\)"):
        guided_backprop(model, images[0])
    with pytest.raises(TypeError, match="nn.Module"):
        guided_backprop(lambda x: x, images)
    assert_unchanged(model, before)
    assert_relus_plain()
