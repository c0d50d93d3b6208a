"""A faster copy of a model for the many no-grad forwards of the perturbation methods and the metrics.

ScoreCAM scores one masked copy of the input per channel (1280 forwards for mobilenet_v2's last
layer), and on a CPU a batch norm in eval mode costs about as much as the convolution before it.
:func:`twin_of` gives a copy of the model with every batch norm folded into the convolution
before it (``torch.fx``'s ``fuse``: ``W' = W γ/σ``, ``b' = (b - μ) γ/σ + β``): the same function up to
float rounding, in 0.5x the time on mobilenet_v2 (resnet50: 0.96x). On the first batch the folded copy
is also traced and frozen by TorchScript (``torch.jit.trace``, ``freeze``, ``optimize_for_inference``:
weights packed once for oneDNN), another 0.85x on resnet50; where that fails the folded copy runs.

The copy is made once and kept while the model is unchanged (:class:`~.modules.ModelFingerprint`); it is
checked against the model on the first batch of every batch shape it serves (scores within 1e-4 of
their scale; else the trace is dropped, and if the folded copy disagrees too the model itself is used),
and it is never used for a model with hooks (their effect would be missing), one in train mode, off
the CPU, in another dtype than float32, or that ``torch.fx`` cannot trace: then the model itself runs.
"""

from __future__ import annotations

import copy
import threading
import warnings
import weakref
from typing import Any

import torch
from torch import nn

from .modules import ModelFingerprint

__all__ = ["twin_of", "TwinForward"]

_TWINS: weakref.WeakKeyDictionary[nn.Module, _Twin] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _hooked(model: nn.Module) -> bool:
    return any(
        getattr(module, name)
        for module in model.modules()
        for name in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    ) or bool(torch.nn.modules.module._global_forward_hooks or torch.nn.modules.module._global_forward_pre_hooks)


def _eligible(model: nn.Module) -> bool:
    parameters = list(model.parameters())
    return (
        bool(parameters)
        and all(p.device.type == "cpu" and p.dtype == torch.float32 for p in parameters)
        and not any(module.training for module in model.modules())
        and not _hooked(model)
        and any(isinstance(module, nn.modules.batchnorm._BatchNorm) for module in model.modules())
    )


class _Twin:
    """A model's folded copy (None: none can be had), its frozen trace (None: not made yet, False: none
    can be had), the model's fingerprint when it was made, and the batch shapes on which it has been
    seen to agree with the model."""

    def __init__(self, model: nn.Module) -> None:
        self.fingerprint = ModelFingerprint(model)
        self.agreed: set[tuple[int, ...]] = set()
        self.traced: Any = None
        try:
            from torch.fx.experimental.optimization import fuse

            self.module: nn.Module | None = fuse(copy.deepcopy(model)).eval().requires_grad_(False)
        except Exception:  # not traceable, not copyable: the model runs as it is
            self.module = None

    @property
    def verified(self) -> bool:
        return bool(self.agreed)

    def runner(self, images: torch.Tensor) -> Any:
        """The frozen trace (made on the first call, from ``images``), else the folded copy."""
        if self.traced is None:
            with _LOCK:
                if self.traced is None:
                    self.traced = _frozen_trace(self.module, images)
        return self.traced or self.module


def _frozen_trace(module: nn.Module, images: torch.Tensor) -> Any:
    """``module`` traced on ``images`` and frozen for inference, or False where TorchScript cannot."""
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # TorchScript's deprecation and tracer notices
            traced = torch.jit.trace(module, images.clone(), strict=False, check_trace=False)
            return torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
    except Exception:
        return False


def twin_of(model: nn.Module) -> _Twin | None:
    """The model's folded copy (see the module docstring), or None when the model itself must run."""
    if not _eligible(model):
        return None
    with _LOCK:
        kept = _TWINS.get(model)
        if kept is None or not kept.fingerprint.matches(model):
            kept = _TWINS[model] = _Twin(model)
        return kept if kept.module is not None else None


class TwinForward:
    """``model(images)`` through the model's twin when it has one that agrees with it on the first batch of
    each shape (scores within ``1e-4`` of their largest magnitude), else through ``forward`` (the model's
    own call)."""

    def __init__(self, model: nn.Module, forward: Any, channels_last: bool = True) -> None:
        self.forward, self.channels_last = forward, channels_last
        self._twin = twin_of(model)

    def __call__(self, images: torch.Tensor) -> Any:
        twin = self._twin
        if twin is None or twin.module is None:
            return self.forward(images)
        layout = self.channels_last and images.ndim == 4
        laid_out = images.contiguous(memory_format=torch.channels_last) if layout else images
        shape, own = tuple(images.shape), None
        while twin.module is not None:
            runner = twin.runner(images)
            try:
                output = runner(laid_out)
            except Exception:
                if runner is twin.module:
                    raise
                twin.traced = False  # the trace cannot run this batch: the folded copy can
                twin.agreed.clear()
                continue
            if shape in twin.agreed:
                return output
            own = self.forward(images) if own is None else own
            if _agree(own, output):
                twin.agreed.add(shape)
                return output
            if runner is twin.module:
                twin.module = None  # kept as none for this model: it runs as it is from now on
            else:
                twin.traced = False  # the folded copy is tried on the same batch
                twin.agreed.clear()
        return self.forward(images) if own is None else own


def _agree(own: Any, twin: Any) -> bool:
    if isinstance(own, torch.Tensor) and isinstance(twin, torch.Tensor):
        if own.shape != twin.shape:
            return False
        scale = float(own.abs().max()) if own.numel() else 0.0
        return bool(torch.allclose(own.float(), twin.float(), rtol=0, atol=1e-4 * max(scale, 1.0)))
    if isinstance(own, (tuple, list)) and isinstance(twin, (tuple, list)) and len(own) == len(twin):
        return all(_agree(a, b) for a, b in zip(own, twin))
    if isinstance(own, dict) and isinstance(twin, dict) and own.keys() == twin.keys():
        return all(_agree(own[k], twin[k]) for k in own)
    return False
