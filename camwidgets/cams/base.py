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
import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..compat.projections import get_2d_projection
from ..engine import CaptureCache, Explainer, MethodCall, MethodSpec, base_spec, get_method

__all__ = ["BaseCAM", "ForwardCalledCAM", "method_class", "compute_cams"]

_OPTIONS = ("output_selector", "normalise", "aggregate", "as_tensor", "cache", "progress")
# the reference BaseCAM's own constructor arguments, accepted by keyword (and ignored where meaningless)
_REFERENCE_ARGUMENTS = ("compute_input_gradient", "uses_gradients", "tta_transforms", "detach")


class BaseCAM:
    """Shared shell: ``cam(input_tensor, targets=None, aug_smooth=False, eigen_smooth=False)`` returns
    (B, H, W) float32 maps in [0, 1] (numpy by default).

    The method's own parameters (its registry entry's ``options``) are taken positionally after
    ``reshape_transform`` in the reference's order, or by keyword, and kept as instance attributes
    read at each call, as with the reference (``cam.batch_size = 64``). A wrapper's keywords that
    name its base method's parameters (``FEM``'s ``k``) go to the base method."""

    method: ClassVar[str] = ""
    # the method's own parameters: instance attributes passed to the method at each call
    parameters: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        model: nn.Module,
        target_layers: Sequence[nn.Module | str] | None = None,
        reshape_transform: Callable | None = None,
        *args: Any,
        **keywords: Any,
    ) -> None:
        custom = _user_method(type(self))
        if not self.method and not custom:
            raise TypeError(
                "BaseCAM is abstract: use a method class such as GradCAM, or subclass BaseCAM and override "
                "get_cam_weights(input_tensor, target_layer, targets, activations, grads) or get_cam_image(...)"
            )
        if "use_cuda" in keywords:
            raise TypeError(
                "use_cuda was removed (pytorch-grad-cam removed it too): the maps are computed on the model's device; "
                "move the model first, for example model.to('cuda')"
            )
        spec = get_method(self.method) if self.method else base_spec("gradcam")
        if custom and not self.method:  # the reference's own constructor arguments, positionally
            keywords.update(dict(zip(_REFERENCE_ARGUMENTS, args)))
            args = ()
        options = self._own_options(spec, args, keywords) if self.method else {}
        reference = {name: keywords.pop(name) for name in list(keywords) if name in _REFERENCE_ARGUMENTS}
        unknown = [name for name in keywords if name not in _OPTIONS]
        if unknown:
            known = _OPTIONS + ("target_layers", "reshape_transform") + tuple(spec.options)
            close = difflib.get_close_matches(unknown[0], known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            if "base_method" in spec.options:
                base = base_spec(options.get("base_method", spec.options["base_method"]))
                hint += f" The base method {base.class_name} takes {', '.join(base.options) or 'no parameters'}."
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}.{hint}")
        for name, value in (spec.resolve(options) if self.method else {}).items():
            setattr(self, name, value)
        if spec.own_layers is not None and target_layers:
            warnings.warn(
                f"{spec.class_name} ignores target_layers: it reads layers of its own choosing ({spec.summary})",
                stacklevel=2,
            )
        self.model = model
        self.target_layers = target_layers
        self.reshape_transform = reshape_transform
        self.compute_input_gradient = reference.get("compute_input_gradient", False)
        self.uses_gradients = reference.get("uses_gradients", spec.needs_gradients if self.method else True)
        self.detach = reference.get("detach", True)
        self.as_tensor = bool(keywords.get("as_tensor", False))
        self.progress = keywords.get("progress")
        self.outputs: Any = None
        self._spec = _custom_spec(self) if custom else spec
        self._explainer = Explainer(
            model,
            target_layers if spec.own_layers is None else spec.own_layers(model),
            reshape_transform,
            output_selector=keywords.get("output_selector"),
            normalise=keywords.get("normalise", "image"),
            aggregate=keywords.get("aggregate", "mean"),
            cache=keywords.get("cache"),
            tta_transforms=reference.get("tta_transforms"),
            single_position="blank",  # the reference gives a blank map for a 1x1 grid; a warning says why
        )

    def _own_options(self, spec: MethodSpec, args: tuple, keywords: dict[str, Any]) -> dict[str, Any]:
        """The method's parameters given positionally (in ``spec.positional`` order) or by keyword
        (taken out of ``keywords``); for a wrapper, keywords naming the base method's parameters too."""
        names = spec.positional
        if len(args) > len(names):
            allowed = ", ".join(("model", "target_layers", "reshape_transform", *names))
            raise TypeError(
                f"{type(self).__name__}() takes at most {3 + len(names)} positional arguments ({allowed}); got {3 + len(args)}"
            )
        given = dict(zip(names, args))
        for name in [name for name in keywords if name in spec.options]:
            if name in given:
                raise TypeError(f"{type(self).__name__}() got multiple values for argument {name!r}")
            given[name] = keywords.pop(name)
        if "base_method" in spec.options:
            base = base_spec(given.get("base_method", spec.options["base_method"]))  # an unknown base method fails here
            passed = {
                name: keywords.pop(name) for name in list(keywords) if name in base.options and name not in _OPTIONS
            }
            if passed:
                given["base_options"] = {**(given.get("base_options") or {}), **passed}
        return given

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
        *,
        explain_input: Any = None,
    ) -> Any:
        """The maps of the batch, (B, *input size) float32 in [0, 1]. ``input_tensor`` may be a tuple or dict of
        the model's inputs: then the maps of input ``explain_input`` (a position or a name), or without it
        ``{input: maps}`` for every image-like input (see :mod:`camwidgets.engine.inputs`)."""
        return self._maps(input_tensor, targets, aug_smooth, eigen_smooth, {}, explain_input)

    def _maps(
        self,
        input_tensor: Any,
        targets: Any,
        aug_smooth: bool,
        eigen_smooth: bool,
        call_options: dict[str, Any],
        explain_input: Any = None,
    ) -> Any:
        """The maps, with the method's parameters as the instance attributes say (``call_options`` win)."""
        options = {name: getattr(self, name) for name in self.parameters if name in self._spec.options}
        maps = self._explainer.compute(
            self._spec,
            input_tensor,
            targets,
            aug_smooth=aug_smooth,
            eigen_smooth=eigen_smooth,
            options={**options, **call_options},
            progress=self.progress,
            explain_input=explain_input,
        )
        last = self._explainer.last_capture
        self.outputs = last.outputs if last is not None else None
        if isinstance(maps, dict):
            return {key: value if self.as_tensor else _numpy(value) for key, value in maps.items()}
        return maps if self.as_tensor else _numpy(maps)

    def forward(
        self, input_tensor: torch.Tensor, targets: Sequence[Callable] | None = None, eigen_smooth: bool = False
    ) -> np.ndarray | torch.Tensor:
        return self(input_tensor, targets, aug_smooth=False, eigen_smooth=eigen_smooth)

    @property
    def _registered_spec(self) -> MethodSpec | None:
        """The registry entry of the class's method (None for a user-defined BaseCAM subclass)."""
        return get_method(self.method) if self.method else None

    def get_cam_weights(
        self, input_tensor: torch.Tensor, target_layer: nn.Module, targets: Any, activations: Any, grads: Any
    ) -> np.ndarray:
        """(B, C) channel weights from one layer's activations and gradients (the reference's hook for
        new methods): defined for methods of the form ``sum_c w_c A_c`` (GradCAM, GradCAM++, XGradCAM);
        a subclass overrides it to define its own."""
        spec = self._registered_spec
        if spec is None or spec.weights is None:
            name = type(self).__name__
            raise NotImplementedError(
                f"{name} has no channel weights of its own; override get_cam_weights (or get_cam_image) in a subclass"
            )
        return _numpy(spec.weights(torch.as_tensor(activations), torch.as_tensor(grads)))

    def get_cam_image(
        self,
        input_tensor: torch.Tensor,
        target_layer: nn.Module,
        targets: Any,
        activations: Any,
        grads: Any,
        eigen_smooth: bool = False,
    ) -> np.ndarray:
        """One layer's raw (B, *s) map from its (B, C, *s) activations and gradients (numpy or tensors):
        the method's own formula, or, for a subclass that defines ``get_cam_weights``,
        ``sum_c w_c A_c`` (its first principal component with ``eigen_smooth``), as the reference."""
        spec = self._registered_spec
        if spec is not None and not _overrides(type(self), "get_cam_weights"):  # the registered method's own formula
            if spec.compute is None:
                raise NotImplementedError(
                    f"{type(self).__name__} computes its maps with extra forwards or layers of its own, not from one layer's "
                    "activations and gradients; call the object itself"
                )
            A = torch.as_tensor(activations)
            G = torch.as_tensor(grads) if grads is not None else None
            options = {name: getattr(self, name) for name in self.parameters}
            return _numpy(spec.compute(A, G, eigen_smooth, **spec.keywords(spec.resolve(options), A)))
        weights = np.asarray(self.get_cam_weights(input_tensor, target_layer, targets, activations, grads))
        values = _numpy(activations)
        weighted = weights.reshape(*weights.shape, *[1] * (values.ndim - 2)) * values
        return get_2d_projection(weighted) if eigen_smooth else weighted.sum(axis=1)

    def release(self) -> None:
        """Nothing to release: hooks live only during a call. Kept for compatibility."""
        self.outputs = None

    def __enter__(self) -> BaseCAM:
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        self.release()


class ForwardCalledCAM(BaseCAM):
    """A method the reference calls as ``cam(input_tensor, targets=None, eigen_smooth=False, **call
    options)``, without ``aug_smooth`` (FinerCAM, RefineCAM, SESS); the call options (FinerCAM's
    ``alpha``, ...) hold for that call, defaults where not given."""

    def forward(  # type: ignore[override]
        self,
        input_tensor: torch.Tensor,
        targets: Sequence[Callable] | None = None,
        eigen_smooth: bool = False,
        **call_options: Any,
    ) -> np.ndarray | torch.Tensor:
        spec = get_method(self.method)
        unknown = [name for name in call_options if name not in spec.call_options]
        if unknown:
            takes = ", ".join(spec.call_options) or "no options"
            raise TypeError(
                f"{type(self).__name__}() call got an unexpected keyword argument {unknown[0]!r}; it takes {takes}"
            )
        values = {name: call_options.get(name, spec.options[name]) for name in spec.call_options}
        return self._maps(input_tensor, targets, False, eigen_smooth, values)

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray | torch.Tensor:  # type: ignore[override]
        return self.forward(*args, **kwargs)


def _overrides(cls: type, name: str) -> bool:
    """Whether a user's subclass defines ``name`` (the registered classes' own weights do not count)."""
    found = getattr(cls, name)
    return found is not getattr(BaseCAM, name) and not getattr(found, "registered", False)


def _registered_weights(spec: MethodSpec) -> Callable:
    """The class's ``get_cam_weights`` for a method with channel weights: the registry's formula,
    also callable on the class itself with ``self=None`` (as the reference's tests do)."""

    def get_cam_weights(
        self: Any, input_tensor: Any, target_layer: Any, targets: Any, activations: Any, grads: Any
    ) -> np.ndarray:
        return _numpy(spec.weights(torch.as_tensor(activations), torch.as_tensor(grads)))  # type: ignore[misc]

    get_cam_weights.registered = True  # type: ignore[attr-defined]
    get_cam_weights.__doc__ = BaseCAM.get_cam_weights.__doc__
    return get_cam_weights


def _user_method(cls: type) -> bool:
    """Whether ``cls`` defines its method the reference's way, by ``get_cam_weights`` or ``get_cam_image``."""
    return _overrides(cls, "get_cam_weights") or _overrides(cls, "get_cam_image")


def _numpy(value: Any) -> Any:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value


def _custom_spec(cam: BaseCAM) -> MethodSpec:
    """A method spec whose maps come from ``cam.get_cam_image`` on each target layer's numpy
    activations and gradients (the reference's contract for subclasses), finished by the engine."""

    def run(call: MethodCall) -> torch.Tensor:
        explainer = call.explainer
        result = explainer.capture(call.input_tensor, call.targets, need_gradients=cam.uses_gradients)
        raw = []
        for (name, layer), record in zip(explainer.layers or [], result.records):
            activations = explainer.spatial(record.activation, result, name)
            gradients = explainer.spatial(record.gradient, result, name) if record.gradient is not None else None
            cam_image = cam.get_cam_image(
                call.input_tensor, layer, result.targets, _numpy(activations), _numpy(gradients), call.eigen_smooth
            )
            raw.append(torch.as_tensor(np.asarray(cam_image, dtype=np.float32), device=activations.device))
        call.capture = result
        return explainer.finish(raw, result.image_size)

    name = type(cam).__name__
    summary = (type(cam).__doc__ or "").strip().split("\n")[0] or f"{name}, a user-defined method"
    family = "gradient" if cam.uses_gradients else "gradient-free"
    return MethodSpec(
        name=name,
        class_name=name,
        family=family,
        needs_gradients=cam.uses_gradients,
        cost=1.0,
        summary=summary,
        run=run,
    )


def _signature(spec: MethodSpec) -> inspect.Signature:
    """The generated class's constructor signature: the reference's, plus keyword-only options."""
    kind = inspect.Parameter
    parameters = [
        kind("model", kind.POSITIONAL_OR_KEYWORD),
        kind("target_layers", kind.POSITIONAL_OR_KEYWORD, default=None),
    ]
    parameters.append(kind("reshape_transform", kind.POSITIONAL_OR_KEYWORD, default=None))
    parameters += [kind(name, kind.POSITIONAL_OR_KEYWORD, default=spec.options[name]) for name in spec.positional]
    parameters += [kind(name, kind.KEYWORD_ONLY, default=spec.options[name]) for name in spec.keyword_only]
    parameters.append(kind("options", kind.VAR_KEYWORD))
    return inspect.Signature(parameters)


def method_class(name: str) -> type[BaseCAM]:
    """The public class of a registered method, made from its registry entry alone: the shared
    constructor and call (``ForwardCalledCAM`` for ``call="forward"``), the method's options as
    parameters, its formula as the docstring."""
    spec = get_method(name)
    base = ForwardCalledCAM if spec.call == "forward" else BaseCAM
    namespace = {
        "method": spec.name,
        "parameters": tuple(spec.options),
        "__doc__": spec.doc,
        "__module__": "camwidgets.cams",
        "__signature__": _signature(spec),
    }
    if spec.weights is not None:
        namespace["get_cam_weights"] = _registered_weights(spec)
    return type(spec.class_name, (base,), namespace)


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
