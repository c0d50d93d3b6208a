"""Public CAM classes with pytorch-grad-cam 1.5.x's names, constructors and call signatures: one
class per registered method, each made by :func:`~camwidgets.cams.base.method_class` from its
registry entry alone (see :mod:`camwidgets.cams.base` for the shared shell and its extra options)."""

from ..engine import METHODS, AblationLayer, AblationLayerFasterRCNN, AblationLayerVit
from . import factorization
from .base import BaseCAM, ForwardCalledCAM, compute_cams, method_class
from .factorization import *  # noqa: F401,F403

#: Every registered method's public class, by class name (``"GradCAM"``: ``GradCAM``).
CLASSES: dict[str, type[BaseCAM]] = {spec.class_name: method_class(spec.name) for spec in METHODS.values()}
globals().update(CLASSES)

__all__ = [
    "BaseCAM", "ForwardCalledCAM", "method_class", "compute_cams", "CLASSES", *CLASSES,
    "AblationLayer", "AblationLayerVit", "AblationLayerFasterRCNN", *factorization.__all__,
]  # fmt: skip
