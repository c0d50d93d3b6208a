"""The method registry: one entry per CAM method, with what the engine and widgets need to know."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from ..capture import Capture
    from ..explainer import Explainer
    from ..progress import ProgressOption

__all__ = [
    "MethodSpec",
    "MethodCall",
    "register",
    "get_method",
    "base_spec",
    "method_names",
    "single_capture_methods",
    "METHODS",
    "FAMILIES",
    "SLOW_COST",
]

FAMILIES = ("gradient", "gradient-free", "perturbation", "attention")
#: A method costing more than this many forwards per image is slow: marked in menus and help, run in
#: the background by the explorer.
SLOW_COST = 2.0

# (activations (B, C, *s), gradients (B, C, *s) or None, eigen_smooth, **options) -> raw map (B, *s)
MapFunction = Callable[..., torch.Tensor]


@dataclass
class MethodCall:
    """Everything a whole-method ``run`` function gets: the explainer (model, layers, reshape,
    normalisation, cache), the batch on the model's device, one target per image or None, the
    smoothing flag, the method's own parameters resolved by its spec (``batch_size``, ...) and the
    progress option."""

    explainer: Explainer
    input_tensor: torch.Tensor
    targets: list | None
    eigen_smooth: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    progress: ProgressOption = None
    capture: Capture | None = None  # the method may leave its capture here (for ``cam.outputs``)


# MethodCall -> final (B, *image size) maps, already upsampled, aggregated and normalised
RunFunction = Callable[[MethodCall], torch.Tensor]


@dataclass(frozen=True, kw_only=True)
class MethodSpec:
    """A registered method: the single source of truth about it.

    ``name`` is the key used by the engine, the widgets and the CLI (``"gradcam"``); ``class_name``
    the public class (``"GradCAM"``); ``cost`` the rough price in forward passes per image (the
    widgets' "slow" marks); ``summary`` and ``paper`` describe it.

    A method is one function of one of two shapes. ``compute(activations, gradients, eigen_smooth,
    **options)`` maps one layer's (A, G) of one capture to a raw (B, *s) map: switching among such
    methods reuses a cached capture. Methods needing more than that (ScoreCAM's extra forwards,
    FullGrad's bias gradients, wrappers over a base method) give ``run(call: MethodCall)``, which
    returns the final maps; the explainer then only handles ``aug_smooth``.

    ``options`` are the method's own parameters with their defaults, in the reference's constructor
    order (the generated class takes them positionally after ``reshape_transform``, except those in
    ``keyword_only``) and kept as instance attributes read at each call; ``check`` validates a full
    set of them; ``prepare(options, batch)`` turns them into ``compute``'s keywords (a seed into a
    generator on the batch's device). ``own_layers(model)``: the modules a method reads by its own
    choice (FullGrad: every layer with a bias); target layers are then ignored, with a warning.
    ``weights(activations, gradients)``: the (B, C) channel weights of a method whose map is
    ``sum_c w_c A_c`` (the classes' ``get_cam_weights``). ``call="forward"``: the class is called as ``cam(input_tensor, targets=None,
    eigen_smooth=False, **call_options)`` without ``aug_smooth``, as the reference's FinerCAM,
    RefineCAM and SESS are; ``call_options`` name the options a call may set for itself.
    ``passes(options, channels)``: forward passes per image at a layer of ``channels`` channels, for
    methods whose price depends on them (the explorer's cost estimates); ``cost`` otherwise.
    ``input_axes``: the positional axes of the inputs the method is defined on (1 signals, 2 images,
    3 volumes and clips); :meth:`check_input_axes` refuses others.
    """

    name: str
    class_name: str
    family: str
    needs_gradients: bool
    cost: float
    summary: str
    paper: str = ""
    compute: MapFunction | None = None
    run: RunFunction | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    keyword_only: tuple[str, ...] = ()
    check: Callable[[dict], None] | None = None
    prepare: Callable[[dict, torch.Tensor], dict] | None = None
    own_layers: Callable[[Any], list] | None = None
    weights: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    call: str = "cam"
    call_options: tuple[str, ...] = ()
    passes: Callable[[Mapping[str, Any], int], float] | None = None
    input_axes: tuple[int, ...] = (1, 2, 3)

    @property
    def doc(self) -> str:
        """The method function's docstring (its formula and paper)."""
        return (self.compute or self.run).__doc__ or self.summary  # type: ignore[union-attr]

    @property
    def class_specific(self) -> bool:
        """Whether the map depends on the target (the gradient-free family maps what the layer holds, whatever
        the class, and attention rollout what the blocks attend to)."""
        return self.family != "gradient-free" and not (self.needs_attention and not self.needs_gradients)

    @property
    def needs_attention(self) -> bool:
        """The method reads attention probabilities: it explains transformers only."""
        return self.family == "attention"

    def accepts(self, input_axes: int) -> bool:
        """Whether the method is defined on inputs with this many positional axes."""
        return input_axes in self.input_axes

    def check_input_axes(self, input_tensor: torch.Tensor) -> None:
        """ValueError when the method is not defined on inputs of this many positional axes."""
        axes = input_tensor.ndim - 2
        if not self.accepts(axes):
            kinds = {1: "signals (B, C, L)", 2: "images (B, C, H, W)", 3: "volumes and clips (B, C, D, H, W)"}
            raise ValueError(
                f"{self.class_name} is defined on {' and '.join(kinds[a] for a in self.input_axes)} only; got an input of "
                f"shape {tuple(input_tensor.shape)}. Pick a method for {kinds.get(axes, f'{axes} positional axes')}, "
                "for example GradCAM"
            )

    @property
    def slow(self) -> bool:
        """More than :data:`SLOW_COST` forwards per image."""
        return self.cost > SLOW_COST

    def forwards_per_image(self, channels: int, options: Mapping[str, Any] | None = None) -> float:
        """Forward passes per image at a layer of ``channels`` channels with these options: ``passes(options, channels)`` for methods whose price grows with the
        channels or samples, else ``cost``."""
        return float(self.passes(self.resolve(options), channels)) if self.passes is not None else self.cost

    @property
    def positional(self) -> tuple[str, ...]:
        """Options the constructor takes positionally after ``reshape_transform``."""
        return tuple(name for name in self.options if name not in self.keyword_only)

    def resolve(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The defaults updated with ``given``, checked; an unknown name is a TypeError with a hint."""
        given = dict(given or {})
        unknown = [name for name in given if name not in self.options]
        if unknown:
            close = difflib.get_close_matches(unknown[0], list(self.options), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            known = ", ".join(self.options) or "none"
            raise TypeError(f"{self.class_name} got an unknown option {unknown[0]!r}.{hint} Its options: {known}")
        options = {**self.options, **given}
        if self.check is not None:
            self.check(options)
        return options

    def keywords(self, options: Mapping[str, Any], batch: torch.Tensor) -> dict[str, Any]:
        """``compute``'s keyword arguments for a call with these (resolved) options."""
        return self.prepare(dict(options), batch) if self.prepare is not None else dict(options)


METHODS: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    if spec.family not in FAMILIES:
        raise ValueError(f"unknown family {spec.family!r}; expected one of {FAMILIES}")
    if (spec.compute is None) == (spec.run is None):
        raise ValueError(f"method {spec.name!r} needs exactly one of compute (per-layer map) and run (whole method)")
    if spec.call not in ("cam", "forward"):
        raise ValueError(f"method {spec.name!r}: call must be 'cam' or 'forward'; got {spec.call!r}")
    if spec.name in METHODS:
        raise ValueError(f"method {spec.name!r} is registered twice")
    METHODS[spec.name] = spec
    return spec


def method_names() -> list[str]:
    return list(METHODS)


def single_capture_methods() -> list[str]:
    """The methods computed from one capture's activations and gradients (no extra forwards):
    switching among them, or toggling eigen_smooth, costs no new forward pass."""
    return [name for name, spec in METHODS.items() if spec.compute is not None]


def base_spec(base_method: Any) -> MethodSpec:
    """The registered method behind a wrapper's ``base_method``: a CAM class (``GradCAM``), a name or a spec."""
    if isinstance(base_method, MethodSpec):
        return base_method
    name = (
        base_method
        if isinstance(base_method, str)
        else getattr(base_method, "method", None) or getattr(base_method, "__name__", None)
    )
    if not isinstance(name, str) or not name:
        raise TypeError(f"base_method must be a CAM class such as GradCAM or a method name; got {base_method!r}")
    return get_method(name)


def get_method(name: str) -> MethodSpec:
    """The spec for ``name`` (the registry key or the class name, any case)."""
    key = name.lower().replace("-", "").replace("_", "")
    for spec in METHODS.values():
        if key in (spec.name.replace("_", ""), spec.class_name.lower().replace("_", "")):
            return spec
    close = difflib.get_close_matches(name.lower(), list(METHODS), n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown method {name!r}.{hint} Registered: {', '.join(METHODS)}")
