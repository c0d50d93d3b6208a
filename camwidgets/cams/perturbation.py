"""Perturbation methods: ScoreCAM and its smoothed/integrated forms, AblationCAM.

Their parameters are instance attributes read at each call, so ``cam.batch_size = 64`` works as
with the reference; they can also be given to the constructor as keywords.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from torch import nn

from ..engine.methods.perturbation import OPTIONS, AblationLayer, AblationLayerFasterRCNN, AblationLayerVit, ablationcam, iscam, scorecam, sscam
from .base import BaseCAM

__all__ = ["ScoreCAM", "SSCAM", "ISCAM", "AblationCAM", "AblationLayer", "AblationLayerVit", "AblationLayerFasterRCNN"]


class _ParameterisedCAM(BaseCAM):
    """A BaseCAM whose method parameters (``defaults``) may be passed as constructor keywords."""

    defaults: dict[str, Any] = {}

    def __init__(
        self, model: nn.Module, target_layers: Sequence[nn.Module | str] | None = None, reshape_transform: Callable | None = None, **options: Any
    ) -> None:
        for name, default in self.defaults.items():
            setattr(self, name, options.pop(name, default))
        super().__init__(model, target_layers, reshape_transform, uses_gradients=False, **options)


def _perturbation_class(class_name: str, method: str, doc: str | None) -> type[BaseCAM]:
    defaults = OPTIONS[method]
    namespace = {"method": method, "parameters": tuple(defaults), "defaults": defaults, "__doc__": doc, "__module__": "camwidgets.cams"}
    return type(class_name, (_ParameterisedCAM,), namespace)


ScoreCAM = _perturbation_class("ScoreCAM", "scorecam", scorecam.__doc__)
SSCAM = _perturbation_class("SSCAM", "sscam", sscam.__doc__)
ISCAM = _perturbation_class("ISCAM", "iscam", iscam.__doc__)


class AblationCAM(BaseCAM):
    __doc__ = ablationcam.__doc__
    __module__ = "camwidgets.cams"
    method = "ablationcam"
    parameters = ("batch_size", "ratio_channels_to_ablate", "ablation_layer", "reuse_prefix")

    def __init__(
        self,
        model: nn.Module,
        target_layers: Sequence[nn.Module | str] | None = None,
        reshape_transform: Callable | None = None,
        ablation_layer: AblationLayer | None = None,
        batch_size: int = OPTIONS["ablationcam"]["batch_size"],
        ratio_channels_to_ablate: float = 1.0,
        *,
        reuse_prefix: bool = True,
        **options: Any,
    ) -> None:
        self.ablation_layer = ablation_layer if ablation_layer is not None else AblationLayer()
        self.batch_size = batch_size
        self.ratio_channels_to_ablate = ratio_channels_to_ablate
        self.reuse_prefix = reuse_prefix
        super().__init__(model, target_layers, reshape_transform, uses_gradients=False, **options)
