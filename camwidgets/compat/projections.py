"""NumPy-facing helpers and hook recorder with the reference's names, for code that calls them directly."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine import first_principal_component, kpca_projection

__all__ = [
    "get_2d_projection",
    "get_2d_projection_with_sign_correction",
    "get_2d_projection_kernel",
    "ActivationsAndGradients",
]


def get_2d_projection(activation_batch: np.ndarray) -> np.ndarray:
    """(B, C, *s) activations -> (B, *s) float32: each image's first principal component
    (centred over positions; sign fixed so the largest-magnitude value is positive)."""
    return first_principal_component(torch.as_tensor(np.asarray(activation_batch))).numpy().astype(np.float32)


#: The reference's SegEigenCAM projection: ours always corrects the sign the same way.
get_2d_projection_with_sign_correction = get_2d_projection


def get_2d_projection_kernel(
    activation_batch: np.ndarray, kernel: str = "sigmoid", gamma: float | None = None
) -> np.ndarray:
    """(B, C, *s) activations -> (B, *s) float32: each image's first kernel principal component
    (``kernel`` and ``gamma`` as scikit-learn's KernelPCA; see KPCA-CAM)."""

    activations = torch.as_tensor(np.asarray(activation_batch))
    return kpca_projection(activations, kernel=kernel, gamma=gamma).numpy().astype(np.float32)


class ActivationsAndGradients:
    """Records target layers' outputs and their gradients, as the reference's class does.

    ``recorder(x)`` clears the lists and returns ``model(x)``; after a forward ``activations`` holds
    each layer's output, and after a backward ``gradients`` the gradients of those outputs (in
    layer order), both passed through ``reshape_transform`` and detached to the CPU when ``detach``.
    Its hooks stay on the layers until :meth:`release` (or ``with``); the CAM classes do not use it.
    """

    def __init__(
        self,
        model: nn.Module,
        target_layers: Sequence[nn.Module],
        reshape_transform: Callable | None = None,
        detach: bool = True,
    ) -> None:
        self.model = model
        self.reshape_transform = reshape_transform
        self.detach = detach
        self.activations: list[Any] = []
        self.gradients: list[Any] = []
        self.handles = [layer.register_forward_hook(self._record) for layer in target_layers]

    def _kept(self, tensor: torch.Tensor) -> Any:
        if not self.detach:
            return tensor
        value = self.reshape_transform(tensor) if self.reshape_transform is not None else tensor
        return value.detach().cpu()

    def _record(self, module: nn.Module, inputs: Any, output: Any) -> None:
        self.activations.append(self._kept(output))
        if isinstance(output, torch.Tensor) and output.requires_grad:
            # gradients arrive last layer first; prepending keeps them in layer order
            output.register_hook(lambda grad: self.gradients.insert(0, self._kept(grad)))

    def __call__(self, x: torch.Tensor) -> Any:
        self.activations, self.gradients = [], []
        return self.model(x)

    def release(self) -> None:
        """Remove the hooks and forget what was recorded."""
        for handle in self.handles:
            handle.remove()
        self.handles = []
        self.activations, self.gradients = [], []

    def __enter__(self) -> ActivationsAndGradients:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
