"""Methods built around a base method: FinerCAM, RefineCAM, SESS, SmoothGradCAMpp.

``base_method`` is one of our CAM classes (or a registered method name); keywords that are the base
class's own parameters (``FEM``'s ``k``, ``ScoreCAM``'s ``batch_size``...) go to it. As with the
reference, FinerCAM, RefineCAM and SESS are called as ``cam(input_tensor, targets=None,
eigen_smooth=False)`` (no ``aug_smooth``); SmoothGradCAMpp has the usual call.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from torch import nn

from ..engine.methods import get_method
from ..engine.methods.sess import SESS_DEFAULTS, check_sess_options
from ..engine.methods.wrappers import base_spec, check_smoothgrad_options
from .base import _OPTIONS, BaseCAM
from .gradient import GradCAM, GradCAMPlusPlus

__all__ = ["FinerCAM", "RefineCAM", "SESS", "SmoothGradCAMpp"]

# the reference BaseCAM's own constructor arguments, accepted (and ignored where meaningless) by ours
_REFERENCE_ARGUMENTS = ("compute_input_gradient", "uses_gradients", "tta_transforms", "detach")


def _doc(method: str) -> Optional[str]:
    spec = get_method(method)
    return (spec.compute or spec.run).__doc__  # type: ignore[union-attr]


class _BaseMethodCAM(BaseCAM):
    """A CAM wrapped around ``base_method``: keywords naming the base class's parameters become its
    options (``base_options``); the others are the shared options of every CAM class."""

    def __init__(self, model: nn.Module, target_layers: Any, reshape_transform: Callable | None, base_method: Any, **keywords: Any) -> None:
        base_spec(base_method)  # an unknown base method fails here, not at the first call
        base_parameters = getattr(base_method, "parameters", ())
        self.base_options = {name: keywords.pop(name) for name in list(keywords) if name in base_parameters and name not in _OPTIONS}
        passed = {name: keywords.pop(name) for name in list(keywords) if name in _OPTIONS + _REFERENCE_ARGUMENTS}
        if keywords:
            raise TypeError(
                f"{type(self).__name__}() got unexpected keyword argument(s) {', '.join(map(repr, keywords))}; "
                f"the base method {getattr(base_method, '__name__', base_method)} takes {', '.join(base_parameters) or 'no parameters'}"
            )
        super().__init__(model, target_layers, reshape_transform, **passed)
        self.base_method = base_method

    def forward(self, input_tensor: torch.Tensor, targets: Sequence[Callable] | None = None, eigen_smooth: bool = False) -> np.ndarray | torch.Tensor:
        return BaseCAM.__call__(self, input_tensor, targets, False, eigen_smooth)

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray | torch.Tensor:  # type: ignore[override]
        return self.forward(*args, **kwargs)


class FinerCAM(_BaseMethodCAM):
    __doc__ = _doc("finercam")
    method = "finercam"
    parameters = ("base_method", "base_options", "alpha", "comparison_categories", "target_idx")

    def __init__(
        self, model: nn.Module, target_layers: Any = None, reshape_transform: Callable | None = None, base_method: Any = GradCAM, **options: Any
    ) -> None:
        super().__init__(model, target_layers, reshape_transform, base_method, **options)
        self.alpha: float = 1
        self.comparison_categories: Optional[Sequence[int]] = None
        self.target_idx: Optional[int] = None

    def forward(  # type: ignore[override]
        self,
        input_tensor: torch.Tensor,
        targets: Sequence[Callable] | None = None,
        eigen_smooth: bool = False,
        alpha: float = 1,
        comparison_categories: Optional[Sequence[int]] = None,
        target_idx: Optional[int] = None,
    ) -> np.ndarray | torch.Tensor:
        """``targets=None``: contrast each image's class (top, or ``target_idx``) with the classes at
        ranks ``comparison_categories`` (default 1, 2, 3) of score similarity, weighted by ``alpha``."""
        self.alpha, self.comparison_categories, self.target_idx = alpha, comparison_categories, target_idx
        return super().forward(input_tensor, targets, eigen_smooth)


class RefineCAM(_BaseMethodCAM):
    __doc__ = _doc("refinecam")
    method = "refinecam"
    parameters = ("base_method", "base_options")

    def __init__(
        self, model: nn.Module, target_layers: Any = None, reshape_transform: Callable | None = None, base_method: Any = GradCAMPlusPlus, **options: Any
    ) -> None:
        super().__init__(model, target_layers, reshape_transform, base_method, **options)


class SESS(_BaseMethodCAM):
    __doc__ = _doc("sess")
    method = "sess"
    parameters = ("base_method", "base_options", *SESS_DEFAULTS)

    def __init__(
        self,
        model: nn.Module,
        target_layers: Any = None,
        reshape_transform: Callable | None = None,
        base_method: Any = GradCAM,
        scales: Optional[list[int]] = None,
        num_scales: int = 12,
        scale_step_ratio: float = 2.0 / 7.0,
        window_size: Optional[int] = None,
        step_size: Optional[int] = None,
        pre_filter_ratio: float = 0.0,
        theta: float = 0.0,
        pool: str = "mean",
        smooth: bool = True,
        use_softmax_scores: bool = True,
        batch_size: int = 32,
        **options: Any,
    ) -> None:
        values = dict(locals())
        settings = {name: values[name] for name in SESS_DEFAULTS}
        check_sess_options(settings)
        super().__init__(model, target_layers, reshape_transform, base_method, **options)
        for name, value in settings.items():
            setattr(self, name, value)


class SmoothGradCAMpp(BaseCAM):
    __doc__ = _doc("smoothgradcampp")
    method = "smoothgradcampp"
    parameters = ("num_samples", "std", "seed")

    def __init__(
        self,
        model: nn.Module,
        target_layers: Any = None,
        reshape_transform: Callable | None = None,
        num_samples: int = 4,
        std: float = 0.3,
        *,
        seed: Optional[int] = None,
        **options: Any,
    ) -> None:
        check_smoothgrad_options(num_samples, std)
        super().__init__(model, target_layers, reshape_transform, **options)
        self.num_samples, self.std, self.seed = num_samples, std, seed
