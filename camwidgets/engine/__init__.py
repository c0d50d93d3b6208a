"""The CAM engine: pure torch, knows nothing about widgets."""

from .capture import Capture, LayerRecord, capture
from .explainer import CaptureCache, Explainer
from .layers import resolve_target_layers, suggest_target_layer
from .methods import METHODS, MethodSpec, get_method, method_names

__all__ = [
    "Capture",
    "CaptureCache",
    "Explainer",
    "LayerRecord",
    "METHODS",
    "MethodSpec",
    "capture",
    "get_method",
    "method_names",
    "resolve_target_layers",
    "suggest_target_layer",
]
