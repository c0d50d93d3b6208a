"""The one-capture methods: gradient family, EigenCAM and the other single-pass methods, with the
shared constructor (plus each method's own parameters where the reference has them)."""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

from torch import nn

from ..engine.methods.fullgrad import bias_layers
from .base import method_class

__all__ = [
    "GradCAM", "HiResCAM", "GradCAMElementWise", "GradCAMPlusPlus", "XGradCAM", "LayerCAM", "EigenCAM", "EigenGradCAM",
    "SegEigenCAM", "ShapleyCAM", "FEM", "KPCA_CAM", "RandomCAM", "FullGrad",
]  # fmt: skip

GradCAM = method_class("GradCAM")
HiResCAM = method_class("HiResCAM")
GradCAMElementWise = method_class("GradCAMElementWise")
GradCAMPlusPlus = method_class("GradCAMPlusPlus")
XGradCAM = method_class("XGradCAM")
LayerCAM = method_class("LayerCAM")
EigenCAM = method_class("EigenCAM")
EigenGradCAM = method_class("EigenGradCAM")
SegEigenCAM = method_class("SegEigenCAM")
ShapleyCAM = method_class("ShapleyCAM")


class FEM(method_class("FEM", ("k",))):  # type: ignore[misc]
    __doc__ = method_class("FEM").__doc__

    def __init__(self, model: nn.Module, target_layers: Any = None, reshape_transform: Callable | None = None, k: float = 2, **options: Any) -> None:
        super().__init__(model, target_layers, reshape_transform, **options)
        self.k = k


class KPCA_CAM(method_class("KPCA_CAM", ("kernel", "gamma"))):  # type: ignore[misc]
    __doc__ = method_class("KPCA_CAM").__doc__

    def __init__(
        self,
        model: nn.Module,
        target_layers: Any = None,
        reshape_transform: Callable | None = None,
        kernel: str = "sigmoid",
        gamma: float | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, target_layers, reshape_transform, **options)
        self.kernel = kernel
        self.gamma = gamma


class RandomCAM(method_class("RandomCAM", ("seed",))):  # type: ignore[misc]
    __doc__ = method_class("RandomCAM").__doc__

    def __init__(self, model: nn.Module, target_layers: Any = None, reshape_transform: Callable | None = None, *, seed: int | None = None, **options: Any) -> None:
        super().__init__(model, target_layers, reshape_transform, **options)
        self.seed = seed


class FullGrad(method_class("FullGrad")):  # type: ignore[misc]
    __doc__ = method_class("FullGrad").__doc__

    def __init__(self, model: nn.Module, target_layers: Sequence[Any] | None = None, reshape_transform: Callable | None = None, **options: Any) -> None:
        if target_layers:
            warnings.warn("FullGrad ignores target_layers: it reads the input and every convolution and batch norm with a bias", stacklevel=2)
        layers = [module for _, module in bias_layers(model)] or [model]
        super().__init__(model, layers, reshape_transform, **options)
        self.target_layers = target_layers
