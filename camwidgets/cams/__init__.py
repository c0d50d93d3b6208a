"""Public CAM classes with pytorch-grad-cam 1.5.x's names, constructors and call signatures
(see :mod:`camwidgets.cams.base` for the shared shell and its extra options)."""

from .base import BaseCAM, compute_cams, method_class
from . import factorization, gradient, perturbation, wrappers
from .factorization import *  # noqa: F401,F403
from .gradient import *  # noqa: F401,F403
from .perturbation import *  # noqa: F401,F403
from .wrappers import *  # noqa: F401,F403

__all__ = ["BaseCAM", "method_class", "compute_cams", *gradient.__all__, *perturbation.__all__, *wrappers.__all__, *factorization.__all__]
