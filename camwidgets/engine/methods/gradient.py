r"""Gradient-family methods: one forward, one truncated backward, then math on (A, G).

Notation: ``A[b, c, i, j]`` the target layer's activations, ``G`` the gradient of the target score
with respect to them, sums over ``i, j`` run over spatial positions. Each function returns the
raw (B, *spatial) map; ReLU, normalisation and upsampling are shared (``engine.maps``).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import torch

from ..capture import Capture
from .combine import spatial_dims, summed_channels, weighted_channels
from .registry import MethodCall, MethodSpec


def gradcam(activations: torch.Tensor, gradients: torch.Tensor, eigen_smooth: bool = False) -> torch.Tensor:
    r"""Grad-CAM: ``sum_c w_c A_c`` with ``w_c = mean_ij G_cij`` (https://arxiv.org/abs/1610.02391)."""
    return weighted_channels(gradcam_weights(activations, gradients), activations, eigen_smooth)


def gradcam_weights(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    r"""Grad-CAM's channel weights ``w_c = mean_ij G_cij``."""
    return gradients.mean(dim=spatial_dims(gradients))


def hirescam(activations: torch.Tensor, gradients: torch.Tensor, eigen_smooth: bool = False) -> torch.Tensor:
    r"""HiResCAM: ``sum_c G_c * A_c`` element-wise, which equals the score's gradient-times-input at
    the layer (https://arxiv.org/abs/2011.08891). Smoothing voids its faithfulness guarantee."""
    if eigen_smooth:
        warnings.warn("HiResCAM's faithfulness guarantee does not hold with eigen_smooth", stacklevel=6)
    return summed_channels(gradients * activations, eigen_smooth)


def gradcam_elementwise(activations: torch.Tensor, gradients: torch.Tensor, eigen_smooth: bool = False) -> torch.Tensor:
    r"""Grad-CAM element-wise: ``sum_c relu(G_c * A_c)``."""
    return summed_channels(torch.relu(gradients * activations), eigen_smooth)


def gradcam_plusplus(activations: torch.Tensor, gradients: torch.Tensor, eigen_smooth: bool = False) -> torch.Tensor:
    r"""Grad-CAM++ (https://arxiv.org/abs/1710.11063, eq. 19 with exponential scores):
    ``w_c = sum_ij alpha_cij relu(G_cij)``, ``alpha = G^2 / (2 G^2 + sum_ij(A_c) G^3 + 1e-6)``
    (zero where ``G = 0``)."""
    return weighted_channels(gradcam_plusplus_weights(activations, gradients), activations, eigen_smooth)


def gradcam_plusplus_weights(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    r"""Grad-CAM++'s channel weights from the exact gradient (see :func:`plusplus_weights`)."""
    squared = gradients.pow(2)
    return plusplus_weights(activations, gradients, squared, squared * gradients)


def plusplus_weights(
    activations: torch.Tensor, gradients: torch.Tensor, squared: torch.Tensor, cubed: torch.Tensor
) -> torch.Tensor:
    r"""Grad-CAM++'s channel weights from the gradient's first three powers (or their averages over
    noisy samples, for SmoothGrad-CAM++): ``sum_ij alpha relu(G)``, ``alpha = G2 / (2 G2 + sum_ij(A) G3 + 1e-6)``,
    zero where ``G2 = 0``."""
    dims = spatial_dims(gradients)
    activation_sums = activations.sum(dim=dims, keepdim=True)
    alpha = squared / (2 * squared + activation_sums * cubed + 1e-6)
    alpha = torch.where(squared != 0, alpha, torch.zeros_like(alpha))
    return (torch.relu(gradients) * alpha).sum(dim=dims)


def xgradcam(activations: torch.Tensor, gradients: torch.Tensor, eigen_smooth: bool = False) -> torch.Tensor:
    r"""XGrad-CAM: ``w_c = sum_ij G_cij A_cij / (sum_ij A_cij + 1e-7)`` (https://arxiv.org/abs/2008.02312)."""
    return weighted_channels(xgradcam_weights(activations, gradients), activations, eigen_smooth)


def xgradcam_weights(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    r"""XGrad-CAM's channel weights ``w_c = sum_ij G_cij A_cij / (sum_ij A_cij + 1e-7)``."""
    dims = spatial_dims(gradients)
    return (gradients * activations / (activations.sum(dim=dims, keepdim=True) + 1e-7)).sum(dim=dims)


def layercam(activations: torch.Tensor, gradients: torch.Tensor, eigen_smooth: bool = False) -> torch.Tensor:
    r"""LayerCAM: ``sum_c relu(G_c) * A_c`` (https://ieeexplore.ieee.org/document/9462463)."""
    return summed_channels(torch.relu(gradients) * activations, eigen_smooth)


def eigengradcam(activations: torch.Tensor, gradients: torch.Tensor, eigen_smooth: bool = False) -> torch.Tensor:
    r"""Eigen-Grad-CAM: first principal component of ``G * A`` (always; ``eigen_smooth`` changes nothing)."""
    return summed_channels(gradients * activations, True)


def segeigencam(activations: torch.Tensor, gradients: torch.Tensor, eigen_smooth: bool = False) -> torch.Tensor:
    r"""Seg-Eigen-CAM (https://doi.org/10.3390/app15137562): first principal component of ``|G| * A``,
    signed so its largest-magnitude value is positive (always; ``eigen_smooth`` changes nothing)."""
    return summed_channels(gradients.abs() * activations, True)


def shapleycam(call: MethodCall) -> torch.Tensor:
    r"""ShapleyCAM (https://arxiv.org/abs/2501.06261): ``sum_c w_c A_c`` with
    ``w_c = mean_ij (G - H A / 2)_cij``, where ``H A`` is the Hessian of the target score with respect
    to the layer's activations times the activations (a Hessian-vector product through the kept graph)."""
    explainer = call.explainer
    result = explainer.capture(call.input_tensor, call.targets, need_gradients=True, create_graph=True)
    raw = []
    try:
        for position, record in enumerate(result.records):
            if not isinstance(record.activation, torch.Tensor):
                raise ValueError(
                    f"ShapleyCAM needs target layers whose output is one tensor; layer {record.name!r} returns {type(record.activation).__name__}"
                )
            last = position == len(result.records) - 1
            product = None
            if record.gradient.requires_grad:  # else the score is linear in the layer (and weights are frozen)
                (product,) = torch.autograd.grad(
                    record.gradient,
                    record.activation,
                    grad_outputs=record.activation,
                    retain_graph=not last,
                    allow_unused=True,
                )
            spatial = [explainer.spatial(t.detach(), result, record.name) for t in (record.activation, record.gradient)]
            activations, gradients = spatial
            curvature = (
                torch.zeros_like(gradients) if product is None else explainer.spatial(product, result, record.name)
            )
            weights = (gradients - 0.5 * curvature).mean(dim=spatial_dims(gradients))
            raw.append(weighted_channels(weights, activations, call.eigen_smooth))
    finally:
        call.capture = detached(result)
    return explainer.finish(raw, result.image_size)


def detached(result: Capture) -> Capture:
    """The capture without its autograd graph: detached outputs and scores, no layer records."""
    outputs = result.outputs.detach() if isinstance(result.outputs, torch.Tensor) else result.outputs
    scores = result.scores.detach() if result.scores is not None else None
    return dataclasses.replace(result, outputs=outputs, scores=scores, records=[])


def _per_layer(
    name: str, class_name: str, compute: Any, summary: str, paper: str = "", weights: Any = None
) -> MethodSpec:
    return MethodSpec(
        name=name,
        class_name=class_name,
        family="gradient",
        needs_gradients=True,
        cost=1.0,
        compute=compute,
        summary=summary,
        paper=paper,
        weights=weights,
    )


SPECS = (
    _per_layer("gradcam", "GradCAM", gradcam, "channel weights = mean gradient", "https://arxiv.org/abs/1610.02391", gradcam_weights),
    _per_layer("hirescam", "HiResCAM", hirescam, "gradient x activation, summed over channels", "https://arxiv.org/abs/2011.08891"),
    _per_layer("gradcam_elementwise", "GradCAMElementWise", gradcam_elementwise, "ReLU(gradient x activation), summed"),
    _per_layer("gradcam++", "GradCAMPlusPlus", gradcam_plusplus, "second-order weighting of positive gradients", "https://arxiv.org/abs/1710.11063", gradcam_plusplus_weights),
    _per_layer("xgradcam", "XGradCAM", xgradcam, "activation-normalised gradient weights", "https://arxiv.org/abs/2008.02312", xgradcam_weights),
    _per_layer("layercam", "LayerCAM", layercam, "positive gradients as spatial weights", "https://ieeexplore.ieee.org/document/9462463"),
    _per_layer("eigengradcam", "EigenGradCAM", eigengradcam, "first principal component of gradient x activation"),
    _per_layer("segeigencam", "SegEigenCAM", segeigencam, "first principal component of |gradient| x activation", "https://doi.org/10.3390/app15137562"),
    MethodSpec(
        name="shapleycam", class_name="ShapleyCAM", family="gradient", needs_gradients=True, cost=2.0, run=shapleycam,
        summary="gradient minus half the Hessian-vector product as channel weights", paper="https://arxiv.org/abs/2501.06261",
    ),
)  # fmt: skip
