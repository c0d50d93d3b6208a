"""The Explainer: a model, its target layers and options, computing any registered method's maps
from a shared, cached capture (one forward and at most one backward per images/layers/targets)."""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from . import methods as _methods  # noqa: F401  (registers the methods)
from .capture import Capture, IndependentLayer, capture, check_input, check_targets
from .inputs import SeveralInputs, is_several_inputs, layers_seeing, tiled_rows
from .layers import resolve_target_layers
from .maps import AGGREGATIONS, NORMALISATIONS, finish_maps
from .methods.registry import MethodCall, MethodSpec, get_method
from .modules import ModelFingerprint, eager_model, model_device, model_lock
from .progress import ProgressOption
from .reshape import to_spatial
from .smoothing import AUGMENTATIONS, augment, deaugment_mean
from .suggest import suggest_layer
from .targets import EachOf, target_key
from .token_sources import TokenSources, token_sources

__all__ = ["Explainer", "CaptureCache"]


def _selector_key(selector: Any) -> Hashable:
    return selector if selector is None or isinstance(selector, (int, str)) else ("callable", id(selector))


@dataclass
class _Entry:
    input_tensor: torch.Tensor
    input_version: int
    fingerprint: ModelFingerprint
    capture: Capture


class CaptureCache:
    """Keeps the most recent captures so that several methods, eigen_smooth toggles and
    normalisations of the same images, layers and targets share one forward/backward.

    An entry is reused only for the very same input tensor object, unmodified (same version), and
    the very same model with the same modules, parameters and buffers, unmodified
    (:class:`ModelFingerprint`); a capture with gradients also serves methods that need none.
    ``forward_passes`` counts the captures actually run.
    """

    def __init__(self, max_entries: int = 4) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.forward_passes = 0
        self.hits = 0
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, input_tensor: torch.Tensor, need_gradients: bool, model: nn.Module) -> Capture | None:
        for entry_key in (key + (True,), key + (False,)) if not need_gradients else (key + (True,),):
            entry = self._entries.get(entry_key)
            if entry is None:
                continue
            if not entry.fingerprint.matches(model):
                del self._entries[entry_key]  # computed from another model, or one changed since
                continue
            if entry.input_tensor is input_tensor and entry.input_version == input_tensor._version:
                self._entries.move_to_end(entry_key)
                self.hits += 1
                return entry.capture
        return None

    def put(self, key: Hashable, input_tensor: torch.Tensor, result: Capture, fingerprint: ModelFingerprint) -> None:
        self.forward_passes += 1
        self._entries[key + (result.has_gradients,)] = _Entry(input_tensor, input_tensor._version, fingerprint, result)
        if result.has_gradients:
            self._entries.pop(key + (False,), None)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


def _serialised(method: Callable) -> Callable:
    """An Explainer method run under its model's lock: one computation on a model at a time, across
    threads (two captures' hooks would otherwise both fire in each forward)."""

    @functools.wraps(method)
    def locked(self: Explainer, *args: Any, **kwargs: Any) -> Any:
        bound = self.several[0].explaining(self.model, self.several[1]) if self.several else contextlib.nullcontext()
        with model_lock(self.model), bound:
            return method(self, *args, **kwargs)

    return locked


def _each_part(
    input_tensor: torch.Tensor, targets: Sequence[Callable]
) -> tuple[torch.Tensor, list[Callable], list[int]]:
    """Rows for targets some of which are :class:`EachOf`: the images repeated once per part, the
    parts, and the image each row belongs to."""
    targets = check_targets(targets, input_tensor.shape[0])
    parts = [list(target.targets) if isinstance(target, EachOf) else [target] for target in targets]
    owners = [image for image, own in enumerate(parts) for _ in own]
    return input_tensor[owners], [part for own in parts for part in own], owners


def _maximum_per_image(maps: torch.Tensor, owners: Sequence[int], images: int) -> torch.Tensor:
    """(images, *s): the maximum of the rows of ``maps`` that belong to each image (zeros for none)."""
    index = torch.tensor(list(owners), device=maps.device).view(-1, *[1] * (maps.ndim - 1)).expand_as(maps)
    return torch.zeros((images, *maps.shape[1:]), device=maps.device, dtype=maps.dtype).scatter_reduce(
        0, index, maps, reduce="amax", include_self=True
    )


class Explainer:
    """Explain ``model`` at ``target_layers`` with any registered method.

    ``target_layers``: modules or ``named_modules()`` names; ``None`` picks
    :func:`~camwidgets.engine.suggest.suggest_layer` at the first call and warns which layer it chose.
    ``reshape_transform`` maps a layer's output (and gradient) to (B, C, *spatial); token outputs
    (B, N, C) are laid on their grid automatically. ``output_selector`` picks the scores from a model
    returning a tuple/dict. ``normalise``: 'image' (min-max per image, the reference's), 'batch' or
    'none'. ``aggregate``: how several layers combine, 'mean' (the reference's) or 'max'.
    """

    def __init__(
        self,
        model: nn.Module,
        target_layers: Any = None,
        reshape_transform: Callable | None = None,
        *,
        output_selector: Any = None,
        normalise: str = "image",
        aggregate: str = "mean",
        cache: CaptureCache | None = None,
        tta_transforms: Any = None,
        single_position: str = "refuse",
        layer_calls: Sequence[int] | None = None,
        several: tuple[SeveralInputs, Hashable] | None = None,
    ) -> None:
        model = eager_model(model)  # TorchScript refused; a torch.compile'd model explained through its original module
        if normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be one of {', '.join(NORMALISATIONS)}; got {normalise!r}")
        if aggregate not in AGGREGATIONS:
            raise ValueError(f"aggregate must be one of {', '.join(AGGREGATIONS)}; got {aggregate!r}")
        self.model = model
        self.layers = resolve_target_layers(model, target_layers) if target_layers is not None else None
        self.reshape_transform = reshape_transform
        self.output_selector = output_selector
        self.normalise = normalise
        self.aggregate = aggregate
        self.cache = cache
        self.tta_transforms = tta_transforms
        self.single_position = (
            single_position  # "refuse" a layer with a 1x1 grid, or give a "blank" map (the drop-in classes)
        )
        self.layer_calls = layer_calls  # which call of each layer to read (a layer shared by several inputs)
        self.several = (
            several  # (inputs, key): every call runs the model on all of them, the batch in input key's place
        )
        self.last_capture: Capture | None = None
        self._token_sources: TokenSources | None = None  # read from the model at the first token output

    @property
    def layer_names(self) -> list[str]:
        return [name for name, _ in self.layers] if self.layers else []

    def _ensure_layers(self, input_tensor: torch.Tensor) -> list:
        if self.layers is None:
            suggestion = suggest_layer(self.model, input_tensor, self.output_selector)
            self.layers = resolve_target_layers(self.model, [suggestion.name])
            warnings.warn(
                f"no target layer given; {suggestion.message()}. Pass target_layers to choose another.", stacklevel=7
            )
        return self.layers

    @_serialised
    def capture(
        self,
        input_tensor: torch.Tensor,
        targets: Sequence[Callable] | None = None,
        *,
        need_gradients: bool = True,
        aug_smooth: bool = False,
        create_graph: bool = False,
        independent: str = "raise",
    ) -> Capture:
        """The capture for these images and targets: from the cache when possible, else one
        forward (plus one truncated backward if ``need_gradients``). With ``aug_smooth`` the six
        augmented copies run as one batch."""
        check_input(input_tensor)
        layers = self._ensure_layers(input_tensor)
        targets = check_targets(targets, input_tensor.shape[0])
        key = (
            id(self.model),
            tuple(name for name, _ in layers),
            None if targets is None else tuple(target_key(t) for t in targets),
            _selector_key(self.output_selector),
            bool(aug_smooth),
            bool(create_graph),
            independent,
        )
        use_cache = self.cache is not None and not create_graph
        if use_cache:
            cached = self.cache.get(key, input_tensor, need_gradients, self.model)
            if cached is not None:
                self.last_capture = cached
                return cached
            fingerprint = ModelFingerprint(self.model)  # of the model the capture is computed from
        batch = augment(input_tensor) if aug_smooth else input_tensor
        copies = batch.shape[0] // input_tensor.shape[0]
        run_targets = targets * copies if targets is not None else None
        with tiled_rows(self.model, copies, input_tensor.shape[0]):
            result = capture(
                self.model,
                batch,
                layers,
                run_targets,
                need_gradients=need_gradients,
                output_selector=self.output_selector,
                create_graph=create_graph,
                independent=independent,
                calls=self.layer_calls,
            )
        if use_cache:
            self.cache.put(key, input_tensor, result, fingerprint)
        self.last_capture = result
        return result

    def spatial(self, value: Any, result: Capture, layer_name: str) -> torch.Tensor:
        """A layer's output (or its gradient) in ``result`` as (B, C, *spatial), through this
        explainer's reshape transform (token outputs laid on their grid)."""
        transform = self.reshape_transform
        if (
            transform is None and isinstance(value, torch.Tensor) and value.ndim == 3
        ):  # tokens: does the model say how to read them?
            if self._token_sources is None:
                self._token_sources = token_sources(self.model)
            transform = self._token_sources.transform(layer_name, value, result.image_size)
        return to_spatial(value, transform, result.image_size, layer_name, self.single_position)

    def finish(self, raw: Sequence[torch.Tensor], image_size: Sequence[int]) -> torch.Tensor:
        """Raw per-layer maps -> final (B, *image_size) maps with this explainer's normalisation and
        layer aggregation (:func:`~camwidgets.engine.maps.finish_maps`)."""
        return finish_maps(raw, image_size, self.normalise, self.aggregate)

    def layer_maps(
        self, spec: MethodSpec, result: Capture, eigen_smooth: bool = False, options: dict[str, Any] | None = None
    ) -> list[torch.Tensor]:
        """The method's raw (B, *spatial) map for each target layer of a capture (``options``: the
        method's own parameters, defaults for the rest)."""
        if spec.compute is None:
            raise ValueError(f"{spec.class_name} is not a per-layer map of one capture; call Explainer.compute instead")
        keywords = spec.keywords(spec.resolve(options), result.input_tensor)
        raw = []
        for record in result.records:
            activations = self.spatial(record.activation, result, record.name)
            gradients = self.spatial(record.gradient, result, record.name) if spec.needs_gradients else None
            raw.append(spec.compute(activations, gradients, eigen_smooth, **keywords))
        return raw

    @_serialised
    def dependent_layer_maps(
        self,
        method: str | MethodSpec,
        input_tensor: torch.Tensor,
        targets: Sequence[Callable] | None = None,
        normalise: str = "image",
    ) -> dict[str, torch.Tensor]:
        """``{layer: final map}`` of a per-layer method for the target layers the scores depend on,
        from one capture (the others, such as a detector's RPN head for a box score, are left out)."""
        spec = method if isinstance(method, MethodSpec) else get_method(method)
        if spec.compute is None:
            raise ValueError(
                f"{spec.class_name} computes its maps with extra forwards; dependent_layer_maps takes a per-layer method"
            )
        rows, flat, owners = (
            _each_part(input_tensor, targets)
            if targets is not None
            else (input_tensor, None, list(range(len(input_tensor))))
        )
        if flat == []:
            return {}
        result = self.capture(rows, flat, need_gradients=spec.needs_gradients, independent="zero")
        raw = self.layer_maps(spec, result, False, None)
        return {
            record.name: _maximum_per_image(
                finish_maps([layer], result.image_size, normalise), owners, input_tensor.shape[0]
            )
            for record, layer in zip(result.records, raw)
            if record.name not in result.independent
        }

    def per_layer_maps(
        self,
        method: str | MethodSpec,
        input_tensor: torch.Tensor,
        targets: Sequence[Callable] | None = None,
        *,
        eigen_smooth: bool = False,
        options: dict[str, Any] | None = None,
        progress: ProgressOption = None,
        normalise: str | None = None,
    ) -> list[torch.Tensor]:
        """Each target layer's final (B, *image size) map on its own, normalised by ``normalise``
        (default: this explainer's): all from one capture for a per-layer method, else one call of
        the method per layer."""
        spec = method if isinstance(method, MethodSpec) else get_method(method)
        how = self.normalise if normalise is None else normalise
        if spec.compute is not None:
            result = self.capture(input_tensor, targets, need_gradients=spec.needs_gradients)
            raw = self.layer_maps(spec, result, eigen_smooth, options)
            return [finish_maps([layer], result.image_size, how) for layer in raw]
        return [
            self.replace(target_layers=[module], cache=None, normalise=how).compute(
                spec, input_tensor, targets, eigen_smooth=eigen_smooth, options=options, progress=progress
            )
            for _, module in self._ensure_layers(input_tensor)
        ]

    def replace(self, **changes: Any) -> Explainer:
        """A new explainer like this one with some constructor arguments changed (``target_layers``,
        ``cache``, ``normalise``, ...); this one is left as it is."""
        current = {
            "target_layers": [module for _, module in self.layers] if self.layers is not None else None,
            "reshape_transform": self.reshape_transform,
            "output_selector": self.output_selector,
            "normalise": self.normalise,
            "aggregate": self.aggregate,
            "cache": self.cache,
            "tta_transforms": self.tta_transforms,
            "single_position": self.single_position,
            "layer_calls": self.layer_calls,
            "several": self.several,
        }
        unknown = sorted(set(changes) - set(current))
        if unknown:
            raise TypeError(
                f"Explainer.replace() got unknown argument(s) {', '.join(unknown)}; known: {', '.join(current)}"
            )
        return Explainer(self.model, **{**current, **changes})

    @_serialised
    def compute(
        self,
        method: str | MethodSpec,
        input_tensor: torch.Tensor,
        targets: Sequence[Callable] | None = None,
        *,
        aug_smooth: bool = False,
        eigen_smooth: bool = False,
        options: dict[str, Any] | None = None,
        progress: ProgressOption = None,
        explain_input: Any = None,
    ) -> Any:
        """Final maps (B, *image size) on the model's device, normalised as configured.

        ``options`` are the method's own parameters (ScoreCAM's ``batch_size``, ...); ``progress``
        is None (a tqdm bar for long methods), False, or a callback ``(done, total, description)``
        that may return False to cancel (:class:`~camwidgets.engine.progress.Cancelled`).
        ``input_tensor`` may be a tuple or dict of the model's inputs (:mod:`~camwidgets.engine.inputs`):
        the maps of input ``explain_input``, or without it ``{input: maps}`` for every image-like input."""
        spec = method if isinstance(method, MethodSpec) else get_method(method)
        if is_several_inputs(input_tensor):
            how = {"aug_smooth": aug_smooth, "eigen_smooth": eigen_smooth, "options": options, "progress": progress}
            return self._compute_several(spec, input_tensor, targets, explain_input, how)
        if explain_input is not None:
            raise ValueError("explain_input names one of several inputs; input_tensor is a single tensor")
        if isinstance(input_tensor, torch.Tensor):
            spec.check_input_axes(input_tensor)
        if targets is not None and any(isinstance(target, EachOf) for target in targets):
            return self._compute_each(
                spec,
                input_tensor,
                targets,
                aug_smooth=aug_smooth,
                eigen_smooth=eigen_smooth,
                options=options,
                progress=progress,
            )
        resolved = spec.resolve(options)
        if spec.run is not None:
            maps = self._run_whole_method(spec, input_tensor, targets, aug_smooth, eigen_smooth, resolved, progress)
        elif aug_smooth and self.tta_transforms is not None:
            maps = self._compute_with_transforms(spec, input_tensor, targets, eigen_smooth, resolved)
        else:
            result = self.capture(input_tensor, targets, need_gradients=spec.needs_gradients, aug_smooth=aug_smooth)
            maps = self.finish(self.layer_maps(spec, result, eigen_smooth, resolved), result.image_size)
            maps = deaugment_mean(maps) if aug_smooth else maps
        return maps.float()  # float32 maps for any model dtype

    def _compute_several(
        self, spec: MethodSpec, given: Any, targets: Any, explain_input: Any, how: dict[str, Any]
    ) -> Any:
        """Maps of each explained input of several: the target layers that see it (measured), the model called
        with all the inputs, zeros (with a warning) where the scores do not depend on it."""
        inputs = SeveralInputs(given)
        keys = [inputs.key(explain_input)] if explain_input is not None else inputs.image_like
        if not keys:
            raise ValueError(
                "none of the inputs is image-like (a floating point (B, C, *positions) tensor); nothing to map"
            )
        if self.layers is None:
            raise ValueError(
                "with several inputs, pass target_layers: a layer in the branch of each input to explain (a layer "
                "shared by the inputs, as in a siamese model, is read on each input's own pass)"
            )
        maps = {}
        for key in keys:
            seeing = layers_seeing(self.model, inputs, key, self.layers)
            if not seeing:
                if explain_input is not None:
                    raise ValueError(
                        f"none of the target layers ({', '.join(self.layer_names)}) sees input {key!r}; add a layer of its branch"
                    )
                warnings.warn(
                    f"input {key!r} reaches none of the target layers; pass a layer of its branch to explain it",
                    stacklevel=4,
                )
                continue
            explainer = self.replace(
                target_layers=[c.module for c in seeing], cache=None, layer_calls=[c.call for c in seeing]
            )
            x = inputs.tensor(key)
            try:
                with inputs.explaining(self.model, key):
                    maps[key] = explainer.compute(spec, x, targets, **how)
            except IndependentLayer:
                names = ", ".join(c.name for c in seeing)
                warnings.warn(
                    f"the target scores do not depend on input {key!r} (through {names}): its maps are zero",
                    stacklevel=4,
                )
                maps[key] = torch.zeros((x.shape[0], *x.shape[2:]), device=model_device(self.model))
            self.last_capture = explainer.last_capture
        return maps[keys[0]] if explain_input is not None else maps

    def _compute_each(
        self, spec: MethodSpec, input_tensor: torch.Tensor, targets: Sequence[Callable], **how: Any
    ) -> torch.Tensor:
        """Maps for targets some of which are :class:`EachOf`: one row per part (an image repeated),
        each part's map normalised per image, then the maximum over an image's parts (zeros for none)."""
        rows, flat, owners = _each_part(input_tensor, targets)
        if not flat:
            return torch.zeros((input_tensor.shape[0], *input_tensor.shape[2:]), device=model_device(self.model))
        return _maximum_per_image(
            self.replace(normalise="image").compute(spec, rows, flat, **how), owners, input_tensor.shape[0]
        )

    def _run_whole_method(
        self,
        spec: MethodSpec,
        input_tensor: torch.Tensor,
        targets: Sequence[Callable] | None,
        aug_smooth: bool,
        eigen_smooth: bool,
        options: dict[str, Any],
        progress: ProgressOption,
    ) -> torch.Tensor:
        """A ``run`` method; with ``aug_smooth`` it runs once on the six augmented copies as one batch."""
        assert spec.run is not None
        check_input(input_tensor)
        if spec.own_layers is None:
            self._ensure_layers(input_tensor)
        targets = check_targets(targets, input_tensor.shape[0])
        x = input_tensor.to(model_device(self.model))
        run_targets = list(targets) if targets is not None else None
        if aug_smooth:
            x = augment(x)
            if run_targets is not None:
                run_targets = run_targets * len(AUGMENTATIONS)
        call = MethodCall(self, x, run_targets, eigen_smooth, dict(options), progress)
        with tiled_rows(self.model, x.shape[0] // input_tensor.shape[0], input_tensor.shape[0]):
            maps = spec.run(call)
        if call.capture is not None:
            self.last_capture = call.capture
        return deaugment_mean(maps) if aug_smooth else maps

    def compute_many(
        self,
        methods: Sequence[str],
        input_tensor: torch.Tensor,
        targets: Sequence[Callable] | None = None,
        *,
        aug_smooth: bool = False,
        eigen_smooth: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Several methods' maps from one capture (gradient methods first, so it has gradients)."""
        specs = sorted((get_method(m) for m in methods), key=lambda s: not s.needs_gradients)
        if self.cache is None:
            self.cache = CaptureCache()
        maps = {
            spec.name: self.compute(spec, input_tensor, targets, aug_smooth=aug_smooth, eigen_smooth=eigen_smooth)
            for spec in specs
        }
        return {get_method(m).name: maps[get_method(m).name] for m in methods}

    def _compute_with_transforms(
        self, spec: MethodSpec, input_tensor: torch.Tensor, targets: Any, eigen_smooth: bool, options: dict[str, Any]
    ) -> torch.Tensor:
        """``aug_smooth`` with user-given ttach-style transforms (``augment_image``/``deaugment_mask``):
        one capture per transform, maps de-augmented and averaged."""
        maps = []
        for transform in self.tta_transforms:
            augmented = transform.augment_image(input_tensor)
            result = self.capture(augmented, targets, need_gradients=spec.needs_gradients)
            single = self.finish(self.layer_maps(spec, result, eigen_smooth, options), result.image_size)
            maps.append(transform.deaugment_mask(single.unsqueeze(1)).squeeze(1))
        return torch.stack(maps).mean(dim=0)
