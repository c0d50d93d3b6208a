r"""Gradient-family methods: one forward, one truncated backward, then math on (A, G).

Notation: ``A[b, c, i, j]`` the target layer's activations, ``G`` the gradient of the target score
with respect to them, sums over ``i, j`` run over spatial positions. Each function returns the
raw (B, *spatial) map; ReLU, normalisation and upsampling are shared (``engine.maps``).
"""

from __future__ import annotations

import warnings

import torch

from .combine import spatial_dims, summed_channels, weighted_channels
from .registry import MethodSpec, register


def gradcam(activations: torch.Tensor, gradients: torch.Tensor, eigen_smooth: bool = False) -> torch.Tensor:
    r"""Grad-CAM: ``sum_c w_c A_c`` with ``w_c = mean_ij G_cij`` (https://arxiv.org/abs/1610.02391)."""
    return weighted_channels(gradients.mean(dim=spatial_dims(gradients)), activations, eigen_smooth)


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
    dims = spatial_dims(gradients)
    squared = gradients.pow(2)
    activation_sums = activations.sum(dim=dims, keepdim=True)
    alpha = squared / (2 * squared + activation_sums * squared * gradients + 1e-6)
    alpha = torch.where(gradients != 0, alpha, torch.zeros_like(alpha))
    weights = (torch.relu(gradients) * alpha).sum(dim=dims)
    return weighted_channels(weights, activations, eigen_smooth)


def xgradcam(activations: torch.Tensor, gradients: torch.Tensor, eigen_smooth: bool = False) -> torch.Tensor:
    r"""XGrad-CAM: ``w_c = sum_ij G_cij A_cij / (sum_ij A_cij + 1e-7)`` (https://arxiv.org/abs/2008.02312)."""
    dims = spatial_dims(gradients)
    weights = (gradients * activations / (activations.sum(dim=dims, keepdim=True) + 1e-7)).sum(dim=dims)
    return weighted_channels(weights, activations, eigen_smooth)


def layercam(activations: torch.Tensor, gradients: torch.Tensor, eigen_smooth: bool = False) -> torch.Tensor:
    r"""LayerCAM: ``sum_c relu(G_c) * A_c`` (https://ieeexplore.ieee.org/document/9462463)."""
    return summed_channels(torch.relu(gradients) * activations, eigen_smooth)


def eigengradcam(activations: torch.Tensor, gradients: torch.Tensor, eigen_smooth: bool = False) -> torch.Tensor:
    r"""Eigen-Grad-CAM: first principal component of ``G * A`` (always; ``eigen_smooth`` changes nothing)."""
    return summed_channels(gradients * activations, True)


for _spec in (
    MethodSpec("gradcam", "GradCAM", "gradient", True, 1.0, gradcam, "channel weights = mean gradient", "https://arxiv.org/abs/1610.02391"),
    MethodSpec("hirescam", "HiResCAM", "gradient", True, 1.0, hirescam, "gradient x activation, summed over channels", "https://arxiv.org/abs/2011.08891"),
    MethodSpec("gradcam_elementwise", "GradCAMElementWise", "gradient", True, 1.0, gradcam_elementwise, "ReLU(gradient x activation), summed"),
    MethodSpec("gradcam++", "GradCAMPlusPlus", "gradient", True, 1.0, gradcam_plusplus, "second-order weighting of positive gradients", "https://arxiv.org/abs/1710.11063"),
    MethodSpec("xgradcam", "XGradCAM", "gradient", True, 1.0, xgradcam, "activation-normalised gradient weights", "https://arxiv.org/abs/2008.02312"),
    MethodSpec("layercam", "LayerCAM", "gradient", True, 1.0, layercam, "positive gradients as spatial weights", "https://ieeexplore.ieee.org/document/9462463"),
    MethodSpec("eigengradcam", "EigenGradCAM", "gradient", True, 1.0, eigengradcam, "first principal component of gradient x activation"),
):
    register(_spec)
