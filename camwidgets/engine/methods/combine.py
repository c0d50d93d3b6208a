"""The two ways a method turns per-channel evidence into one map."""

from __future__ import annotations

import torch

from ..smoothing import first_principal_component


def weighted_channels(weights: torch.Tensor, activations: torch.Tensor, eigen_smooth: bool) -> torch.Tensor:
    """``sum_c w[b, c] * A[b, c]``, or with ``eigen_smooth`` the first principal component of ``w * A``."""
    if eigen_smooth:
        return first_principal_component(weights.reshape(*weights.shape, *[1] * (activations.ndim - 2)) * activations)
    return torch.einsum("bc,bc...->b...", weights, activations)


def summed_channels(evidence: torch.Tensor, eigen_smooth: bool) -> torch.Tensor:
    """``sum_c E[b, c]``, or with ``eigen_smooth`` the first principal component of ``E``."""
    if eigen_smooth:
        return first_principal_component(evidence)
    return evidence.sum(dim=1)


def spatial_dims(tensor: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(2, tensor.ndim))
