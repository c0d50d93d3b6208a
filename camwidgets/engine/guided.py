r"""Guided backpropagation (Springenberg et al., https://arxiv.org/abs/1412.6806) and Guided Grad-CAM.

Guided backpropagation is the gradient of the target score with respect to the input pixels,
with every ReLU's backward replaced by

    ``dL/dx = g * [x > 0] * [g > 0]``   (``g`` = the gradient arriving at the ReLU's output)

so only positive evidence flows back. Guided Grad-CAM multiplies it by a CAM:
``cam[..., None] * guided``.

How the ReLUs are guided: nothing in the model is replaced. During the forward a
``TorchFunctionMode`` turns every ReLU call, ``nn.ReLU`` modules (which call ``F.relu``) and
functional ``F.relu``/``torch.relu``/``Tensor.relu`` (in-place forms included) alike, into a
guided autograd function. Leaving the mode, also on an exception, restores everything; no module,
``inplace`` flag, hook, train/eval mode, ``requires_grad`` or ``.grad`` is touched (the reference
swaps ``nn.ReLU`` modules and puts back new ones without their ``inplace`` flags, misses
functional calls, leaves the model in eval mode and writes ``.grad``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from .capture import _score, check_input, check_targets, top_class_targets
from .modules import evaluation_mode, explained_rank_errors, model_device, model_lock, select_output

__all__ = [
    "relu6_count",
    "guided_backprop",
    "guided_gradcam",
    "GuidedBackpropReLUModel",
    "GuidedBackpropReLU",
    "GuidedBackpropReLUasModule",
    "guided_relus",
]


class _GuidedClamp(torch.autograd.Function):
    """``y = clamp(x, 0, high)`` (``high=None``: ReLU); backward ``g * [0 < y < high] * [g > 0]``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, high: float | None, inplace: bool) -> torch.Tensor:
        if inplace:
            ctx.mark_dirty(x)
            output = x.clamp_(min=0, max=high)
        else:
            output = x.clamp(min=0, max=high)
        ctx.high = high
        ctx.save_for_backward(output)
        return output

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (output,) = ctx.saved_tensors
        passes = (output > 0) & (grad > 0)
        if ctx.high is not None:
            passes &= output < ctx.high
        return grad * passes, None, None


def relu6_count(model: nn.Module) -> int:
    """How many ReLU6 modules the model has (``nn.ReLU6``, or ``nn.Hardtanh`` clamping to [0, 6]):
    guided backprop should guide them too (``relu6=True``), or the picture is noise."""
    return sum(1 for m in model.modules() if isinstance(m, nn.Hardtanh) and (m.min_val, m.max_val) == (0.0, 6.0))


class GuidedBackpropReLU(torch.autograd.Function):
    """The reference's guided ReLU as an autograd function: ``GuidedBackpropReLU.apply(x)`` is
    ``relu(x)`` with the guided backward ``g * [x > 0] * [g > 0]``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return _GuidedClamp.forward(ctx, x, None, False)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return _GuidedClamp.backward(ctx, grad)[0]


class GuidedBackpropReLUasModule(nn.Module):
    """:class:`GuidedBackpropReLU` as a module, to put in place of ``nn.ReLU`` by hand (the
    reference's way; :func:`guided_backprop` needs no replacement)."""

    def forward(self, input_img: torch.Tensor) -> torch.Tensor:
        return GuidedBackpropReLU.apply(input_img)


def _relu(input: torch.Tensor, inplace: bool = False) -> tuple[torch.Tensor, float | None, bool]:
    return input, None, inplace


def _relu_inplace(input: torch.Tensor) -> tuple[torch.Tensor, float | None, bool]:
    return input, None, True


def _relu6(input: torch.Tensor, inplace: bool = False) -> tuple[torch.Tensor, float | None, bool]:
    return input, 6.0, inplace


def _hardtanh(input: torch.Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Any:
    """``nn.ReLU6`` calls ``F.hardtanh(x, 0, 6)``; other bounds are not a ReLU and stay as they are."""
    return (input, 6.0, inplace) if (min_val, max_val) == (0.0, 6.0) else None


_RELU_CALLS: dict[Callable, Callable] = {
    F.relu: _relu,
    torch.relu: _relu,
    torch.Tensor.relu: _relu,
    torch.relu_: _relu_inplace,
    torch.Tensor.relu_: _relu_inplace,
}
_RELU6_CALLS: dict[Callable, Callable] = {F.relu6: _relu6, F.hardtanh: _hardtanh}


class guided_relus(TorchFunctionMode):
    """Within this context every ReLU call (and with ``relu6=True`` every ReLU6) computes the same
    forward but backpropagates guided: ``g * [x > 0] * [g > 0]`` (ReLU6: ``* [x < 6]`` too)."""

    def __init__(self, relu6: bool = False) -> None:
        super().__init__()
        self.calls = {**_RELU_CALLS, **(_RELU6_CALLS if relu6 else {})}

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        parse = self.calls.get(func)
        parsed = parse(*args, **kwargs) if parse is not None else None
        if parsed is None:
            return func(*args, **kwargs)
        return _GuidedClamp.apply(*parsed)


def guided_backprop(
    model: nn.Module,
    input_tensor: torch.Tensor,
    targets: Sequence[Callable | int] | None = None,
    *,
    output_selector: Any = None,
    relu6: bool = False,
) -> torch.Tensor:
    r"""Guided-backpropagation gradients of each image's target score with respect to its pixels:
    ``d target_i(model(x)_i) / d x_i`` with guided ReLUs; a (B, H, W, C) tensor on the model's device.

    ``targets``: one per image (callables such as ``ClassifierOutputTarget(c)``, or class indices);
    ``None`` explains each image's top class. One forward and one backward for the whole batch, in
    eval mode (each module's own mode restored afterwards); the images do not interact, so a batch
    gives what per-image calls give. ``relu6=True`` also guides ``nn.ReLU6``/``F.relu6`` (mobilenet;
    the reference leaves them as plain gradients). ``output_selector`` picks the scores from a model
    returning a tuple or dict.
    """
    check_input(input_tensor)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    batch = input_tensor.shape[0]
    targets = check_targets(targets, batch)  # class indices become ClassifierOutputTarget
    with torch.inference_mode(False), torch.enable_grad(), model_lock(model):
        x = input_tensor.detach().to(model_device(model)).clone().requires_grad_(True)
        with evaluation_mode(model), guided_relus(relu6), explained_rank_errors(x):
            outputs = select_output(model(x), output_selector)
        scores = _score(targets if targets is not None else top_class_targets(outputs, batch), outputs, batch)
        if not scores.requires_grad:
            raise ValueError("the target scores do not depend on the input; check the targets and output_selector")
        (gradient,) = torch.autograd.grad(scores.sum(), x)
    return gradient.movedim(1, -1)


def guided_gradcam(cam_maps: Any, guided: Any) -> Any:
    """Guided Grad-CAM: ``cam[..., None] * guided``, the CAM (B, H, W) (or (H, W)) gating the
    guided-backprop gradients (B, H, W, C) (or (H, W, C)). Tensors or arrays in; a tensor out (on
    ``guided``'s device when it is one) if either is a tensor, else an array. Show it with
    ``deprocess_image``."""
    if isinstance(cam_maps, torch.Tensor) or isinstance(guided, torch.Tensor):
        device = guided.device if isinstance(guided, torch.Tensor) else cam_maps.device
        cam = torch.as_tensor(cam_maps, device=device)
        gradients = torch.as_tensor(guided, device=device)
    else:
        cam, gradients = np.asarray(cam_maps), np.asarray(guided)
    if cam.ndim not in (2, 3) or tuple(cam.shape) != tuple(gradients.shape[:-1]):
        raise ValueError(
            f"cam_maps {tuple(cam.shape)} must be (B, H, W) (or (H, W)) matching guided {tuple(gradients.shape)}, which is "
            "(B, H, W, C) (or (H, W, C)); compute both for the same images at the input size"
        )
    return cam[..., None] * gradients


class GuidedBackpropReLUModel:
    """pytorch-grad-cam's guided-backprop interface: ``GuidedBackpropReLUModel(model, device)(input_img,
    target_category=None)`` gives the first image's (H, W, 3) float32 array, as the reference does.

    Batched use: for a batch of B > 1 images it returns (B, H, W, 3); ``target_category`` is None
    (each image's top class), one class index for all images, or one index or target per image.
    With ``device`` the model is moved there (as in the reference); nothing else about the model
    changes (see :mod:`camwidgets.engine.guided`). ``relu6=True`` guides ReLU6 too.
    """

    def __init__(
        self, model: nn.Module, device: Any = None, *, relu6: bool = False, output_selector: Any = None
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
        self.model = model if device is None else model.to(torch.device(device))
        self.device = model_device(self.model)
        self.relu6 = relu6
        self.output_selector = output_selector

    def forward(self, input_img: torch.Tensor) -> Any:
        return self.model(input_img)

    def __call__(self, input_img: torch.Tensor, target_category: Any = None) -> np.ndarray:
        batch = input_img.shape[0] if isinstance(input_img, torch.Tensor) and input_img.ndim == 4 else 1
        targets = target_category
        if isinstance(target_category, (int, np.integer)) or callable(target_category):
            targets = [target_category] * batch
        gradients = guided_backprop(
            self.model, input_img, targets, output_selector=self.output_selector, relu6=self.relu6
        )
        result = gradients.detach().cpu().numpy()
        return result[0] if batch == 1 else result
