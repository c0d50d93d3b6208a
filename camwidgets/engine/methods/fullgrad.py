r"""FullGrad: input-gradient and bias-gradient maps of every layer with a bias.

FullGrad (https://arxiv.org/abs/1905.00780) explains the whole network rather than one layer:

``map = sum_c N(|x_c * dS/dx_c|) + sum_l sum_c U(N(|b_lc * dS/dz_lc|))``

over the input channels ``c`` and every convolution or batch norm ``l`` with a bias ``b_l`` (a batch
norm's effective bias ``beta - mu gamma / sqrt(var + eps)``), ``z_l`` the layer's output, ``N`` the
min-max normalisation of one channel map of one image and ``U`` the bilinear resize to the image.
All gradients come from one forward and one backward; the target layers are not used. Since the
resize is linear, each layer's normalised channel maps are summed before its single upsampling.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..capture import capture
from ..maps import normalise, normalise_per_image, upsample
from ..smoothing import first_principal_component
from .registry import MethodCall, MethodSpec

__all__ = ["bias_layers", "effective_bias", "fullgrad"]

_BIAS_TYPES = {1: (nn.Conv1d, nn.BatchNorm1d), 2: (nn.Conv2d, nn.BatchNorm2d), 3: (nn.Conv3d, nn.BatchNorm3d)}


def bias_layers(model: nn.Module, spatial_axes: int = 2) -> list[tuple[str, nn.Module]]:
    """The (name, module) pairs FullGrad reads: convolutions and batch norms of the image's
    dimensionality that have a bias, in ``named_modules()`` order (as the reference picks them)."""
    kinds = _BIAS_TYPES.get(spatial_axes)
    if kinds is None:
        raise ValueError(
            f"FullGrad explains signals, images and volumes (1 to 3 positional axes); got {spatial_axes} spatial axes"
        )
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, kinds) and getattr(module, "bias", None) is not None
    ]


def effective_bias(module: nn.Module) -> torch.Tensor:
    """The constant a layer adds per channel: a convolution's bias, or for a batch norm in eval
    mode ``beta - running_mean * gamma / sqrt(running_var + eps)``."""
    bias = module.bias.detach()
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
        scale = module.weight.detach() / torch.sqrt(module.running_var + module.eps)
        return bias - module.running_mean * scale
    return bias


class _InputTap(nn.Module):
    """Runs ``model`` after an identity module, so that a hook on ``tap`` captures the input and the
    shared capture gives the input's gradient along with the layers' ones."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.tap = nn.Identity()
        self.model = model

    def forward(self, x: torch.Tensor) -> Any:
        return self.model(self.tap(x))


def _channel_maps(evidence: torch.Tensor) -> torch.Tensor:
    """Each (image, channel) map of (B, C, *s) min-max normalised on its own."""
    return normalise_per_image(evidence.flatten(0, 1)).reshape(evidence.shape)


def fullgrad(call: MethodCall) -> torch.Tensor:
    r"""FullGrad (https://arxiv.org/abs/1905.00780): ``sum_c N(|x_c dS/dx_c|) + sum_l sum_c U(N(|b_lc dS/dz_lc|))``
    over the input channels and every convolution/batch norm with a bias (effective bias for batch
    norms), ``N`` a per-channel min-max normalisation, ``U`` the resize to the image. The target layers
    are not used. With ``eigen_smooth``, the first principal component of those per-input-channel and
    per-layer maps (each normalised, at 1/8 of the image size) replaces their sum."""
    explainer = call.explainer
    x = call.input_tensor
    layers = bias_layers(explainer.model, x.ndim - 2)
    tapped = _InputTap(explainer.model)
    result = capture(
        tapped,
        x,
        [("input", tapped.tap)] + layers,
        call.targets,
        need_gradients=True,
        output_selector=explainer.output_selector,
    )
    call.capture = result
    size = result.image_size
    input_record, *layer_records = result.records
    input_maps = _channel_maps(
        (input_record.activation.float() * input_record.gradient.float()).abs()
    )  # float32 maps for any model dtype
    layer_maps = (_bias_map(record.gradient, module, size) for record, (_, module) in zip(layer_records, layers))
    if not call.eigen_smooth:
        return normalise(sum(layer_maps, input_maps.sum(dim=1)), explainer.normalise)
    small_size = [s // 8 for s in size]
    small = [upsample(normalise_per_image(m), small_size) for m in (*input_maps.unbind(1), *layer_maps)]
    projection = first_principal_component(torch.stack(small, dim=1))
    return normalise(upsample(normalise_per_image(projection), size), explainer.normalise)


def _bias_map(gradient: torch.Tensor, module: nn.Module, size: tuple[int, ...]) -> torch.Tensor:
    """One layer's term ``U(sum_c N(|b_c dS/dz_c|))`` at the image size."""
    bias = effective_bias(module).float()
    evidence = (bias.reshape(1, -1, *[1] * (gradient.ndim - 2)) * gradient.float()).abs()
    return upsample(_channel_maps(evidence).sum(dim=1), size)


SPECS = (
    MethodSpec(
        name="fullgrad",
        class_name="FullGrad",
        family="gradient",
        needs_gradients=True,
        cost=1.0,
        run=fullgrad,
        own_layers=lambda model: [module for _, module in bias_layers(model)] or [model],
        summary="input gradient x input plus bias gradients of every layer",
        paper="https://arxiv.org/abs/1905.00780",
    ),
)
