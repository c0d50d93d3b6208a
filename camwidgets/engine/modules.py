"""What the engine needs to know about a model before explaining it, with no engine imports of its
own (every other engine module may import this one): its device and dtype, eval mode for a while,
hooks for a while, its scores out of whatever it returns, one row per image, that it runs eager
code, and one lock per model."""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

__all__ = [
    "ModelFingerprint",
    "explained_rank_errors",
    "model_device",
    "model_dtype",
    "evaluation_mode",
    "forward_hooks",
    "select_output",
    "unwrap_output",
    "is_detection_list",
    "per_image_outputs",
    "BatchMismatch",
    "check_eager_model",
    "eager_model",
    "model_lock",
]


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); CPU for a model with neither."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating-point parameter (or buffer); float32 for a model with neither."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


@contextlib.contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[None]:
    """Put every module in eval mode; restore each module's own ``training`` flag afterwards."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


@contextlib.contextmanager
def forward_hooks(hooks: Iterable[tuple[nn.Module, Callable]], *, pre: bool = False) -> Iterator[None]:
    """Register each ``(module, hook)`` as a forward hook (``pre=True``: a forward pre-hook) while
    inside; every one is removed on the way out, whatever happens (also if registering one fails)."""
    handles = []
    try:
        for module, hook in hooks:
            handles.append(module.register_forward_pre_hook(hook) if pre else module.register_forward_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()


def is_detection_list(output: Any) -> bool:
    """A torchvision detector's output: a list with one dict of ``boxes`` (and labels, scores) per image."""
    return (
        isinstance(output, list)
        and len(output) > 0
        and all(isinstance(item, Mapping) and "boxes" in item for item in output)
    )


def unwrap_output(output: Any) -> tuple[Any, str | None]:
    """The scores in an output that holds them unambiguously, and where they were found: a Hugging
    Face ``ModelOutput`` (or any object or dict with ``logits``) gives its logits, a dict with
    ``out`` (torchvision segmenters) that, a tuple its first tensor (``(scores, extras)``). Tensors,
    detectors' lists of dicts and anything else come back as they are (``None``: nothing picked)."""
    if isinstance(output, torch.Tensor) or is_detection_list(output):
        return output, None
    if isinstance(output, Mapping):
        for key in ("logits", "out"):
            if isinstance(output.get(key), torch.Tensor):
                return output[key], f"output[{key!r}]"
        return output, None
    if isinstance(getattr(output, "logits", None), torch.Tensor):
        return output.logits, "output.logits"
    if isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor) and output[0].ndim >= 2:
        return output[0], "output[0]"
    return output, None


_TOLD: set[tuple[str, str]] = set()  # where scores were found without a selector, said once per kind of output


def select_output(output: Any, output_selector: Any) -> Any:
    """Pick the scores from a model's output: ``None`` takes them where :func:`unwrap_output` finds
    them unambiguously (and says so once), an int or key indexes it, a callable maps it."""
    if output_selector is None:
        scores, where = unwrap_output(output)
        notice = (type(output).__name__, where)
        if where is not None and notice not in _TOLD:
            _TOLD.add(notice)
            warnings.warn(
                f"the model's output ({type(output).__name__}) holds its scores in {where}; explaining those "
                "(pass output_selector to choose others)",
                stacklevel=3,
            )
        return scores
    if callable(output_selector):
        return output_selector(output)
    try:
        return output[output_selector]
    except (KeyError, IndexError, TypeError):
        available = (
            list(output.keys())
            if isinstance(output, dict)
            else f"indices 0..{len(output) - 1}"
            if isinstance(output, (tuple, list))
            else type(output).__name__
        )
        raise ValueError(
            f"output_selector {output_selector!r} does not select anything from the model output (available: {available})"
        ) from None


_RANK_ERROR = re.compile(r"[Ee]xpected (?:\w+ )*\(?\d+D")  # torch's "expected 4D input (got 3D input)" and kin

INPUT_KINDS = {
    3: "a batch of signals (B, C, L)",
    4: "a batch of images (B, C, H, W)",
    5: "a batch of volumes or clips (B, C, D, H, W)",
}


@contextlib.contextmanager
def explained_rank_errors(input_tensor: torch.Tensor) -> Iterator[None]:
    """Turn torch's error for an input with the wrong number of axes, raised inside the model, into
    one that says how the input was read and what to pass (one image (C, H, W) is also a valid
    batch of signals, so only the model can tell)."""
    try:
        yield
    except (RuntimeError, ValueError) as error:  # convolutions raise the one, batch norms the other
        if not _RANK_ERROR.search(str(error)) or "input_tensor" in str(error):
            raise
        kind = INPUT_KINDS.get(input_tensor.ndim, f"a tensor of {input_tensor.ndim} axes")
        hint = " For one image (C, H, W) pass image.unsqueeze(0)." if input_tensor.ndim == 3 else ""
        raise ValueError(
            f"the model refused input_tensor of shape {tuple(input_tensor.shape)}, read as {kind}: {error}. Pass the batch "
            f"the model takes (input_tensor must have shape (B, C, H, W), (B, C, L) or (B, C, D, H, W)).{hint}"
        ) from error


class BatchMismatch(ValueError):
    """The model's output does not have one row (or list item) per image of the batch."""


def per_image_outputs(outputs: Any, batch: int) -> Sequence[Any]:
    """The outputs as one item per image (rows of a tensor, or a detector's list of dicts)."""
    if isinstance(outputs, torch.Tensor):
        if outputs.ndim == 0 or outputs.shape[0] != batch:
            raise BatchMismatch(
                f"the model output has shape {tuple(outputs.shape)}, which has no row per image of the batch of {batch}"
            )
        return outputs
    if isinstance(outputs, list):
        if len(outputs) != batch:
            raise BatchMismatch(
                f"the model returned a list of {len(outputs)} items for a batch of {batch} images; it needs one per image"
            )
        return outputs
    kind = type(outputs).__name__
    raise ValueError(
        f"the model returns a {kind}; pass output_selector (an index, a key or a callable) that picks the score tensor "
        "with one row per image, for example output_selector=0 or output_selector='out'"
    )


def check_eager_model(model: Any) -> None:
    """Raise a clear error for a model whose layers' hooks cannot run: not an ``nn.Module``, or a
    TorchScript module (``torch.jit.trace``/``torch.jit.script``), whose forward is compiled code."""
    if isinstance(model, torch.jit.ScriptModule):
        raise TypeError(
            f"the model is a TorchScript module ({type(model).__name__}, from torch.jit.trace or torch.jit.script): "
            "its forward runs compiled code, so hooks on its layers never fire. Pass the original eager nn.Module "
            "(the model before tracing or scripting)."
        )
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")


def eager_model(model: Any) -> nn.Module:
    """The module to explain: ``model`` itself, or for a ``torch.compile``'d model the original module
    it wraps (``_orig_mod``), since hooks need eager execution. TorchScript is refused (see
    :func:`check_eager_model`)."""
    check_eager_model(model)
    original = getattr(model, "_orig_mod", None)
    if type(model).__name__ == "OptimizedModule" and isinstance(original, nn.Module):
        return original
    return model


_MODEL_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_MODEL_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """One re-entrant lock per model: hooks of two threads' captures would both fire in each
    forward, so the engine runs one computation on a model at a time (others wait their turn)."""
    with _MODEL_LOCKS_GUARD:
        lock = _MODEL_LOCKS.get(model)
        if lock is None:
            lock = _MODEL_LOCKS[model] = threading.RLock()
        return lock


class ModelFingerprint:
    """What a capture was computed from: the model object, its module structure and every
    parameter and buffer (the very tensor objects, their storage and their in-place version).

    :meth:`matches` is False after an optimizer step or in-place load (versions), a replaced
    submodule (``model.fc = nn.Linear(...)``), ``load_state_dict(..., assign=True)`` or
    ``p.data = ...`` (tensor identity or storage), and for another model that reuses a
    garbage-collected model's ``id`` (objects are held by weak reference, so a dead one never matches)."""

    def __init__(self, model: nn.Module) -> None:
        self._model = weakref.ref(model)
        self._modules = [(name, weakref.ref(module)) for name, module in model.named_modules(remove_duplicate=False)]
        self._tensors = [
            (name, weakref.ref(tensor), tensor.data_ptr(), tensor._version) for name, tensor in _named_tensors(model)
        ]

    def matches(self, model: nn.Module) -> bool:
        if self._model() is not model:
            return False
        modules = model.named_modules(remove_duplicate=False)
        if any(
            name != old_name or module is not ref()
            for (old_name, ref), (name, module) in itertools.zip_longest(self._modules, modules, fillvalue=("", _dead))
        ):
            return False
        tensors = _named_tensors(model)
        return all(
            name == old_name and tensor is ref() and tensor.data_ptr() == pointer and tensor._version == version
            for (old_name, ref, pointer, version), (name, tensor) in itertools.zip_longest(
                self._tensors, tensors, fillvalue=("", _dead, 0, 0)
            )
        )


def _dead() -> None:
    """A weak reference whose object is gone (stands in for a missing entry)."""
    return


def _named_tensors(model: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    yield from model.named_parameters(remove_duplicate=False)
    yield from model.named_buffers(remove_duplicate=False)
