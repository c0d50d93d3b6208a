"""Models with several inputs: ``input_tensor`` a tuple (the model is called ``model(*inputs)``) or a dict
(``model(**inputs)``) of tensors that share the batch axis.

The engine explains one input at a time, and everywhere else sees one tensor as before: while
:meth:`SeveralInputs.explaining` is active, a forward pre-hook on the model turns the engine's
``model(x)`` into the model's own call, with ``x`` in the explained input's place and the other inputs'
rows beside it. A batch of the original size pairs row ``i`` with row ``i``; code that runs other
batches (perturbed copies, augmented copies) says which original row each of its rows belongs to with
:func:`paired_rows`, and a batch whose rows are not declared is refused, never silently mispaired.

Which target layers see which input is measured, not guessed: :func:`layers_seeing` runs the model
twice, the second time with the explained input changed, and keeps the layer calls whose output
changed. A layer shared by several inputs (a siamese branch) runs once per input; its call on the
explained input is the one kept.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .modules import evaluation_mode, model_device

__all__ = [
    "SeveralInputs",
    "paired_rows",
    "tiled_rows",
    "layers_seeing",
    "is_several_inputs",
    "several_inputs_active",
    "LayerCall",
]

#: The models being explained with several inputs, and the binding each is called through.
_ACTIVE: weakref.WeakKeyDictionary[nn.Module, _Binding] = weakref.WeakKeyDictionary()


def is_several_inputs(value: Any) -> bool:
    return isinstance(value, (tuple, list, Mapping)) and not isinstance(value, torch.Tensor)


def _image_like(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.is_floating_point() and value.ndim in (3, 4, 5)


class SeveralInputs:
    """The inputs of one batch: their keys (positions of a tuple, names of a dict), the batch size they
    share, and which of them are image-like (floating point signals, images, volumes or clips)."""

    def __init__(self, inputs: Any) -> None:
        if isinstance(inputs, Mapping):
            self.items: dict[Hashable, Any] = dict(inputs)
            self.by_name = True
        elif isinstance(inputs, (tuple, list)):
            self.items = dict(enumerate(inputs))
            self.by_name = False
        else:
            raise TypeError(f"several inputs are a tuple or a dict of tensors; got {type(inputs).__name__}")
        if not self.items:
            raise ValueError("input_tensor is an empty tuple/dict; pass the model's inputs")
        sizes = {
            key: value.shape[0] for key, value in self.items.items() if isinstance(value, torch.Tensor) and value.ndim
        }
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{key!r}: {size}" for key, size in sizes.items())
            raise ValueError(f"the inputs share the batch axis, so their batches must be equal; got {listed}")
        if not sizes:
            raise ValueError("none of the inputs is a tensor with a batch axis")
        self.batch = next(iter(sizes.values()))
        self.image_like = [key for key, value in self.items.items() if _image_like(value)]

    def key(self, explain_input: Any) -> Hashable:
        """The key of ``explain_input`` (a position or a name), checked: it exists and is image-like."""
        if explain_input not in self.items:
            keys = ", ".join(repr(key) for key in self.items)
            raise ValueError(f"explain_input={explain_input!r} is not one of the inputs; they are {keys}")
        if explain_input not in self.image_like:
            value = self.items[explain_input]
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(
                f"input {explain_input!r} ({shape}) is not image-like (a floating point (B, C, L), (B, C, H, W) or "
                f"(B, C, D, H, W) tensor), so it has no map; image-like inputs: {', '.join(map(repr, self.image_like)) or 'none'}"
            )
        return explain_input

    def tensor(self, key: Hashable) -> torch.Tensor:
        return self.items[key]

    @contextlib.contextmanager
    def explaining(self, model: nn.Module, key: Hashable) -> Iterator[None]:
        """While inside, ``model(x)`` runs the model on all the inputs with ``x`` in place of input ``key``
        (re-entrant: inside the same binding, nothing more)."""
        active = _ACTIVE.get(model)
        if active is not None:
            if active.inputs is self and active.key == key:
                yield
                return
            raise RuntimeError("the model is already being explained with other inputs")
        device = model_device(model)
        others = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in self.items.items() if k != key}
        explained = self.items[key].to(device)
        binding = _Binding(self, key, others, explained)
        handle = model.register_forward_pre_hook(binding.hook, with_kwargs=True)
        _ACTIVE[model] = binding
        try:
            yield
        finally:
            handle.remove()
            _ACTIVE.pop(model, None)


@dataclass
class _Binding:
    inputs: SeveralInputs
    key: Hashable
    others: dict[Hashable, Any]
    explained: torch.Tensor  # the explained input as given (its rows identify undeclared batches' rows)
    rows: torch.Tensor | None = None

    def hook(self, module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        if len(args) != 1 or kwargs:
            raise RuntimeError("with several inputs the engine calls the model with the explained input alone")
        x = args[0]
        rows = self._rows(x)
        values = {k: (v[rows] if isinstance(v, torch.Tensor) and v.ndim else v) for k, v in self.others.items()}
        values[self.key] = x
        if self.inputs.by_name:
            return (), values
        return tuple(values[k] for k in sorted(values)), {}

    def _rows(self, x: torch.Tensor) -> torch.Tensor:
        """Which image each row of ``x`` is: as declared (:func:`paired_rows`), all of them in order for a
        batch of the original size, else each row's exact copy among the images (an image shown alone, a
        row repeated); a row that is none of them, or two images alike, is refused."""
        count, device = x.shape[0], x.device
        if self.rows is not None:
            if len(self.rows) != count:
                raise RuntimeError(f"{len(self.rows)} rows were declared for a batch of {count}")
            return self.rows.to(device)
        found = _copies_of(x, self.explained.to(device=device, dtype=x.dtype))
        if found is not None:
            return found
        if count == self.inputs.batch:
            return torch.arange(count, device=device)
        raise ValueError(
            f"a batch of {count} rows was run through a model with several inputs (batch {self.inputs.batch}) without "
            "saying which image each row belongs to; this method or metric does not take several inputs yet"
        )


def _copies_of(x: torch.Tensor, images: torch.Tensor) -> torch.Tensor | None:
    """For each row of ``x``, the index of the one image of ``images`` it equals exactly; None if a row equals
    none, or more than one (two images alike: which one's other inputs to take cannot be told)."""
    if x.shape[1:] != images.shape[1:]:
        return None
    rows = []
    sums, row_sums = images.flatten(1).sum(dim=1), x.flatten(1).sum(dim=1)  # a cheap first look, then exact
    for row, total in zip(x, row_sums):
        candidates = torch.nonzero(torch.isclose(sums, total, rtol=1e-5, atol=1e-5)).flatten().tolist()
        matches = [i for i in candidates if torch.equal(images[i], row)]
        if len(matches) != 1:
            return None
        rows.append(matches[0])
    return torch.tensor(rows, device=x.device)


@contextlib.contextmanager
def explaining_input(model: nn.Module, inputs: Any, explain_input: Any) -> Iterator[torch.Tensor]:
    """Yield input ``explain_input`` of the model's several ``inputs`` (a tuple or dict); while inside,
    ``model(x)`` runs the model on all of them with ``x`` in its place, so that code written for one
    input (the metrics, ``Explainer.capture``) works unchanged::

        with explaining_input(model, (rgb, depth), 0) as x:
            drops = CamMultImageConfidenceChange()(x, maps, targets, model)
    """
    several = SeveralInputs(inputs)
    key = several.key(explain_input)
    with several.explaining(model, key):
        yield several.tensor(key)


def several_inputs_active(model: nn.Module) -> bool:
    """Whether ``model`` is being explained with several inputs right now."""
    return model in _ACTIVE


@contextlib.contextmanager
def paired_rows(model: nn.Module, rows: torch.Tensor | Sequence[int]) -> Iterator[None]:
    """While inside, batches run through ``model`` hold, row by row, copies of the images ``rows`` (the
    other inputs follow them); nothing for a model with one input."""
    binding = _ACTIVE.get(model)
    if binding is None:
        yield
        return
    previous = binding.rows
    rows = torch.as_tensor(rows, dtype=torch.long)
    binding.rows = rows if previous is None else previous[rows.to(previous.device)]  # rows of rows: composed
    try:
        yield
    finally:
        binding.rows = previous


def tiled_rows(model: nn.Module, copies: int, batch: int) -> contextlib.AbstractContextManager:
    """:func:`paired_rows` for ``copies`` whole copies of the batch one after the other (aug_smooth); nothing for one."""
    return paired_rows(model, torch.arange(copies * batch) % batch) if copies > 1 else contextlib.nullcontext()


@dataclass(frozen=True)
class LayerCall:
    """A target layer and which of its calls in one forward pass to read (0 but for shared layers)."""

    name: str
    module: nn.Module
    call: int = 0


def layers_seeing(
    model: nn.Module, inputs: SeveralInputs, key: Hashable, layers: Sequence[tuple[str, nn.Module]]
) -> list[LayerCall]:
    """The calls of ``layers`` whose output depends on input ``key``: two forwards (the second with that
    input plus noise), each layer call's output compared. ValueError for a layer that sees it in several calls."""
    noise = torch.randn(inputs.tensor(key).shape, generator=torch.Generator().manual_seed(0))
    runs = [_layer_outputs(model, inputs, key, layers, noise if changed else None) for changed in (False, True)]
    seeing = []
    for (name, module), before, after in zip(layers, *runs):
        calls = [i for i, (a, b) in enumerate(zip(before, after)) if a.shape != b.shape or not torch.equal(a, b)]
        if len(calls) > 1:
            raise ValueError(
                f"layer {name!r} sees input {key!r} in {len(calls)} of its calls; pick a layer that sees each input once"
            )
        if calls:
            seeing.append(LayerCall(name, module, calls[0]))
    return seeing


def _layer_outputs(
    model: nn.Module, inputs: SeveralInputs, key: Hashable, layers: Sequence[tuple[str, nn.Module]], noise: Any
) -> list[list[torch.Tensor]]:
    """Each layer's output at each of its calls in one forward of all the inputs (input ``key`` plus ``noise``)."""
    outputs: list[list[torch.Tensor]] = [[] for _ in layers]

    def make_hook(position: int):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            first = _first_tensor(output)
            outputs[position].append(first.detach().float().clone() if first is not None else torch.zeros(0))

        return hook

    x = inputs.tensor(key).to(model_device(model))
    x = x + noise.to(x) if noise is not None else x
    handles = [module.register_forward_hook(make_hook(i)) for i, (_, module) in enumerate(layers)]
    try:
        with inputs.explaining(model, key), evaluation_mode(model), torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return outputs


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, Mapping) else value if isinstance(value, (tuple, list)) else ()
    for item in items:
        found = _first_tensor(item)
        if found is not None:
            return found
    return None
