"""Public CAM classes with pytorch-grad-cam 1.5.x's names, constructors and call signatures.

Each class is a thin shell over :class:`~camwidgets.engine.explainer.Explainer` and one registered
method; switching from pytorch-grad-cam means changing the imports only::

    from camwidgets import GradCAM, ClassifierOutputTarget
    with GradCAM(model=model, target_layers=[model.layer4[-1]]) as cam:
        grayscale_cam = cam(input_tensor=input_tensor, targets=[ClassifierOutputTarget(281)])

Differences, all deliberate: no hook stays registered between calls (``with`` and ``release`` are
kept for compatibility); the model's train/eval modes, ``requires_grad`` flags and ``.grad`` are left
as they were; EigenCAM-style projections have a deterministic sign; errors are not swallowed.
Extra keyword-only options: ``output_selector``, ``normalise`` ('image' | 'batch' | 'none'),
``aggregate`` ('mean' | 'max'), ``as_tensor`` (return maps as a tensor on the model's device) and
``cache`` (a shared :class:`CaptureCache` so several methods reuse one forward/backward) and
``progress`` (None: a tqdm bar for long methods; False: silent; or a callback
``(done, total, description)`` that may return False to cancel).
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, ClassVar, Sequence

import numpy as np
import torch
from torch import nn

from ..engine.explainer import CaptureCache, Explainer
from ..engine.methods import get_method

__all__ = ["BaseCAM", "method_class", "compute_cams"]

_OPTIONS = ("output_selector", "normalise", "aggregate", "as_tensor", "cache", "progress")


class BaseCAM:
    """Shared shell: ``cam(input_tensor, targets=None, aug_smooth=False, eigen_smooth=False)`` returns
    (B, H, W) float32 maps in [0, 1] (numpy by default)."""

    method: ClassVar[str] = ""
    # names of instance attributes passed to the method at each call (``batch_size``, ...); users
    # may change them between calls, as with the reference (``cam.batch_size = 64``)
    parameters: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        model: nn.Module,
        target_layers: Sequence[nn.Module | str] | None = None,
        reshape_transform: Callable | None = None,
        compute_input_gradient: bool = False,
        uses_gradients: bool = True,
        tta_transforms: Any = None,
        detach: bool = True,
        **options: Any,
    ) -> None:
        unknown = [name for name in options if name not in _OPTIONS]
        if unknown:
            name = unknown[0]
            close = difflib.get_close_matches(name, _OPTIONS + ("target_layers", "reshape_transform"), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {name!r}.{hint}")
        if not self.method:
            raise TypeError("BaseCAM is abstract; use a method class such as GradCAM")
        self.model = model
        self.target_layers = target_layers
        self.reshape_transform = reshape_transform
        self.compute_input_gradient = compute_input_gradient
        self.uses_gradients = uses_gradients
        self.detach = detach
        self.as_tensor = bool(options.get("as_tensor", False))
        self.progress = options.get("progress")
        self.outputs: Any = None
        self._explainer = Explainer(
            model,
            target_layers,
            reshape_transform,
            output_selector=options.get("output_selector"),
            normalise=options.get("normalise", "image"),
            aggregate=options.get("aggregate", "mean"),
            cache=options.get("cache"),
            tta_transforms=tta_transforms,
        )

    @property
    def explainer(self) -> Explainer:
        return self._explainer

    @property
    def target_layer_names(self) -> list[str]:
        """The ``named_modules()`` names explained (known after the first call when suggested)."""
        return self._explainer.layer_names

    def __call__(
        self,
        input_tensor: torch.Tensor,
        targets: Sequence[Callable] | None = None,
        aug_smooth: bool = False,
        eigen_smooth: bool = False,
    ) -> np.ndarray | torch.Tensor:
        maps = self._explainer.compute(
            self.method,
            input_tensor,
            targets,
            aug_smooth=aug_smooth,
            eigen_smooth=eigen_smooth,
            options={name: getattr(self, name) for name in self.parameters},
            progress=self.progress,
        )
        last = self._explainer.last_capture
        self.outputs = last.outputs if last is not None else None
        if self.as_tensor:
            return maps
        return maps.detach().cpu().numpy().astype(np.float32, copy=False)

    def forward(
        self, input_tensor: torch.Tensor, targets: Sequence[Callable] | None = None, eigen_smooth: bool = False
    ) -> np.ndarray | torch.Tensor:
        return self(input_tensor, targets, aug_smooth=False, eigen_smooth=eigen_smooth)

    def release(self) -> None:
        """Nothing to release: hooks live only during a call. Kept for compatibility."""
        self.outputs = None

    def __enter__(self) -> "BaseCAM":
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        self.release()


def method_class(class_name: str, parameters: tuple[str, ...] = ()) -> type[BaseCAM]:
    """The public class for a registered method with the shared constructor: a BaseCAM whose
    docstring is the method's formula."""
    spec = get_method(class_name)
    doc = (spec.compute or spec.run).__doc__  # type: ignore[union-attr]
    return type(class_name, (BaseCAM,), {"method": spec.name, "parameters": parameters, "__doc__": doc, "__module__": "camwidgets.cams"})


def compute_cams(
    model: nn.Module,
    input_tensor: torch.Tensor,
    methods: Sequence[str],
    target_layers: Sequence[nn.Module | str] | None = None,
    targets: Sequence[Callable] | None = None,
    **options: Any,
) -> dict[str, np.ndarray]:
    """Several methods' maps for the same images, layers and targets from one shared capture:
    ``{method name: (B, H, W) float32 array}``. Options as for the classes (plus ``reshape_transform``,
    ``aug_smooth``, ``eigen_smooth``)."""
    aug_smooth = options.pop("aug_smooth", False)
    eigen_smooth = options.pop("eigen_smooth", False)
    explainer = Explainer(model, target_layers, options.pop("reshape_transform", None), cache=CaptureCache(), **options)
    maps = explainer.compute_many(methods, input_tensor, targets, aug_smooth=aug_smooth, eigen_smooth=eigen_smooth)
    return {name: value.detach().cpu().numpy().astype(np.float32, copy=False) for name, value in maps.items()}
