r"""Gradient-free methods that read the activations of one forward pass."""

from __future__ import annotations

import torch

from .combine import summed_channels
from .registry import MethodSpec, register


def eigencam(activations: torch.Tensor, gradients: torch.Tensor | None = None, eigen_smooth: bool = False) -> torch.Tensor:
    r"""Eigen-CAM: the first principal component of the activations, ``A v_1`` with ``v_1`` the top
    right singular vector of the centred (positions x channels) matrix (https://arxiv.org/abs/2008.00299).
    Class-agnostic: the target is not used."""
    return summed_channels(activations, True)


register(MethodSpec("eigencam", "EigenCAM", "gradient-free", False, 1.0, eigencam, "first principal component of the activations", "https://arxiv.org/abs/2008.00299"))
