"""Sanity checks for saliency maps (Adebayo et al., https://arxiv.org/abs/1810.03292).

A map that explains the model must change when the model does. Two checks:

* :func:`model_randomization_test`: on a deep copy of the model (the model itself is never
  touched), the parametrised layers are re-initialised one after the other from the output side
  down (cascading: each step keeps the earlier ones randomised), and after each step the method's
  maps are compared with the maps of the trained model. Similarity should fall quickly; a method
  whose maps stay the same (an edge detector, say) does not depend on the model.
* :func:`random_logit_test`: the maps for each image's predicted class against those for a random
  other class. Similar maps mean the method ignores the class.

Similarity per image: the Spearman rank correlation of the absolute maps (ranks with average ties)
and SSIM (an 11x11 gaussian window, sigma 1.5, on maps min-max normalised to [0, 1]); both in torch.

``method`` is a registered name (``"gradcam"``, see ``camwidgets.engine.methods.registry``),
computed with an :class:`~camwidgets.engine.explainer.Explainer` at ``target_layers`` (modules or
names; resolved by name on the copy), or a callable ``method(model, input_tensor, targets) -> maps``
(B, H, W), numpy or torch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine import (
    ClassifierOutputTarget,
    Explainer,
    check_input,
    check_targets,
    evaluation_mode,
    forward_hooks,
    gaussian_blur,
    get_method,
    module_name,
    per_image_outputs,
    resolve_target_layers,
    select_output,
)
from .confidence import as_tensor

__all__ = [
    "RandomizationResult",
    "RandomLogitResult",
    "model_randomization_test",
    "random_logit_test",
    "spearman_rank_correlation",
    "ssim",
]

MethodLike = Any  # str | Callable[[nn.Module, torch.Tensor, Sequence | None], Any]


# --- similarity ---------------------------------------------------------------------------------


def _average_ranks(values: torch.Tensor) -> torch.Tensor:
    """Ranks (0-based) of each row's values, ties given their average rank: (B, N) float64."""
    ordered = torch.sort(values, dim=1).values
    below = torch.searchsorted(ordered, values, right=False)
    through = torch.searchsorted(ordered, values, right=True)
    return (below + through - 1).to(torch.float64) / 2


def _correlation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson correlation per row; 1 where both rows are constant, 0 where only one is."""
    xc = x - x.mean(dim=1, keepdim=True)
    yc = y - y.mean(dim=1, keepdim=True)
    sx, sy = xc.norm(dim=1), yc.norm(dim=1)
    flat_x, flat_y = sx <= 1e-12, sy <= 1e-12
    rho = (xc * yc).sum(dim=1) / (sx * sy).clamp_min(1e-300)
    rho = torch.where(flat_x | flat_y, torch.zeros_like(rho), rho.clamp(-1, 1))
    return torch.where(flat_x & flat_y, torch.ones_like(rho), rho)


def spearman_rank_correlation(a: Any, b: Any, absolute: bool = True) -> torch.Tensor:
    """Spearman rank correlation of each pair of maps (B, ...) -> (B,) float64 (of ``|a|`` and
    ``|b|`` by default). Ties take their average rank; a constant map correlates 0 (1 with another
    constant map)."""
    a, b = as_tensor(a), as_tensor(b).to(as_tensor(a).device)
    x = a.reshape(a.shape[0], -1).to(torch.float64)
    y = b.reshape(b.shape[0], -1).to(torch.float64)
    if absolute:
        x, y = x.abs(), y.abs()
    return _correlation(_average_ranks(x), _average_ranks(y))


def _unit_range(maps: torch.Tensor) -> torch.Tensor:
    flat = maps.reshape(maps.shape[0], -1)
    low, high = flat.min(dim=1, keepdim=True).values, flat.max(dim=1, keepdim=True).values
    span = high - low
    return torch.where(span > 0, (flat - low) / span.clamp_min(1e-300), torch.zeros_like(flat)).view(maps.shape)


def ssim(a: Any, b: Any, window: int = 11, sigma: float = 1.5, normalise: bool = True) -> torch.Tensor:
    """Mean structural similarity of each pair of maps (B, H, W) -> (B,) float64, with a gaussian
    window (clipped to the map size) and ``C1 = 0.01^2``, ``C2 = 0.03^2`` for data range 1. With
    ``normalise`` (the default) each map is first min-max scaled to [0, 1]. Borders are reflected."""
    a, b = as_tensor(a), as_tensor(b).to(as_tensor(a).device)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(
            f"ssim needs two batches of maps of the same shape (B, H, W); got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    x = a.to(torch.float64)
    y = b.to(torch.float64)
    if normalise:
        x, y = _unit_range(x), _unit_range(y)
    size = min(window, *(s if s % 2 else s - 1 for s in x.shape[1:]))

    def blur(z: torch.Tensor) -> torch.Tensor:
        return gaussian_blur(z.unsqueeze(1), size, sigma).squeeze(1)

    c1, c2 = 0.01**2, 0.03**2
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    index = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return index.reshape(index.shape[0], -1).mean(dim=1)


# --- methods ------------------------------------------------------------------------------------


def _layer_names(model: nn.Module, target_layers: Any) -> list[str] | None:
    if target_layers is None:
        return None
    if isinstance(target_layers, (str, nn.Module)):
        target_layers = [target_layers]
    return [layer if isinstance(layer, str) else module_name(model, layer) for layer in target_layers]


def _maps_function(
    method: MethodLike, layer_names: list[str] | None
) -> Callable[[nn.Module, torch.Tensor, Any], torch.Tensor]:
    """``(model, x, targets) -> maps`` (B, H, W) float64 for a registered name or a callable."""
    if isinstance(method, str):
        spec = get_method(method)
        if layer_names is None:
            raise ValueError(
                f"target_layers is needed for the registered method {method!r}: pass the layers (or their names) to explain"
            )

        def compute(model: nn.Module, x: torch.Tensor, targets: Any) -> torch.Tensor:
            return Explainer(model, layer_names).compute(spec, x, targets).detach().to(torch.float64)

        return compute
    if callable(method):

        def call(model: nn.Module, x: torch.Tensor, targets: Any) -> torch.Tensor:
            maps = as_tensor(method(model, x, targets)).to(torch.float64)
            if maps.ndim != 3 or maps.shape[0] != x.shape[0]:
                raise ValueError(f"method must return one map per image (B, H, W); got shape {tuple(maps.shape)}")
            return maps

        return call
    raise TypeError(
        f"method must be a registered method name or a callable (model, input_tensor, targets) -> maps; got {type(method).__name__}"
    )


def _predicted_classes(model: nn.Module, x: torch.Tensor) -> list[int]:
    with evaluation_mode(model), torch.no_grad():
        rows = per_image_outputs(select_output(model(x), None), x.shape[0])
    if not isinstance(rows, torch.Tensor) or rows.ndim != 2:
        raise ValueError("the sanity checks with targets=None need a classifier's (B, classes) scores; pass targets")
    return rows.argmax(dim=-1).tolist()


# --- model randomisation ------------------------------------------------------------------------


def parametrised_layers(model: nn.Module, input_tensor: torch.Tensor) -> list[str]:
    """Names of the modules holding parameters of their own, in the order a forward of
    ``input_tensor`` first runs them (modules the forward never runs follow, in registration order)."""
    owners = {
        name: module for name, module in model.named_modules() if any(True for _ in module.parameters(recurse=False))
    }
    order: list[str] = []
    hooks = (
        (module, lambda m, i, name=name: order.append(name) if name not in order else None)
        for name, module in owners.items()
    )
    with forward_hooks(hooks, pre=True), evaluation_mode(model), torch.no_grad():
        model(input_tensor)
    return order + [name for name in owners if name not in order]


def _reinitialise(module: nn.Module, generator: torch.Generator) -> None:
    """New values for the module's parameters (its submodules' included): each tensor uniform in ``[-1/sqrt(fan_in),
    1/sqrt(fan_in)]`` (fan_in: the elements of one output slice; the length for 1-D tensors), drawn
    from ``generator`` (the global RNG is not used)."""
    with torch.no_grad():
        for parameter in module.parameters():
            fan_in = parameter[0].numel() if parameter.ndim > 1 else parameter.numel()
            bound = 1 / math.sqrt(max(fan_in, 1))
            values = torch.rand(parameter.shape, generator=generator, dtype=torch.float64) * 2 - 1
            parameter.copy_((values * bound).to(parameter.dtype))


@dataclass(frozen=True, eq=False)
class RandomizationResult:
    """Cascading model randomisation: after step ``k`` the layers ``steps[0..k]`` are randomised.

    ``layers``: a label per step (the names randomised at that step, joined by '+');
    ``spearman`` and ``ssim``: (steps, B) similarity of each image's map to its map from the trained
    model; ``method``: the method's name."""

    layers: list[str]
    spearman: np.ndarray
    ssim: np.ndarray
    method: str = ""

    @property
    def mean_spearman(self) -> np.ndarray:
        return self.spearman.mean(axis=1)

    @property
    def mean_ssim(self) -> np.ndarray:
        return self.ssim.mean(axis=1)

    def to_text(self) -> str:
        lines = [f"{'step':>4}  {'randomised':<30} {'spearman':>9} {'ssim':>7}"]
        for step, (label, rho, s) in enumerate(zip(self.layers, self.mean_spearman, self.mean_ssim)):
            lines.append(f"{step:>4}  {label[:30]:<30} {rho:>9.3f} {s:>7.3f}")
        return "\n".join(lines)


def model_randomization_test(
    model: nn.Module,
    input_tensor: torch.Tensor,
    method: MethodLike,
    target_layers: Any,
    targets: Sequence[Callable] | None = None,
    layers_to_randomize: Sequence[str | Sequence[str]] | None = None,
    seed: int = 0,
) -> RandomizationResult:
    """Adebayo et al.'s cascading model randomisation test on a deep copy of ``model``.

    ``layers_to_randomize``: the steps, each a module name or a group of names, randomised (with
    everything inside them) in the given order; ``None``: every module with parameters of its own, one per step, from the output
    side down (reverse order of a forward of ``input_tensor``). ``targets=None`` explains each
    image's predicted class (of the trained model) at every step. ``seed`` seeds the new weights.
    """
    check_input(input_tensor)
    targets = check_targets(targets, input_tensor.shape[0])
    names = _layer_names(model, target_layers)
    if names is not None:
        resolve_target_layers(model, names)  # clear errors for unknown layers, before copying
    compute = _maps_function(method, names)
    twin = copy.deepcopy(model)
    x = input_tensor.detach()
    if targets is None:
        targets = [ClassifierOutputTarget(c) for c in _predicted_classes(twin, x)]
    targets = list(targets)
    if layers_to_randomize is None:
        steps = [[name] for name in reversed(parametrised_layers(twin, x))]
    else:
        steps = [[step] if isinstance(step, str) else list(step) for step in layers_to_randomize]
    modules = dict(twin.named_modules())
    for group in steps:
        for name in group:
            if name not in modules:
                raise ValueError(f"layers_to_randomize names {name!r}, which is not a module of the model")
    generator = torch.Generator().manual_seed(seed)
    original = compute(twin, x, targets)
    spearman, similarity = [], []
    for group in steps:
        for name in group:
            _reinitialise(modules[name], generator)
        maps = compute(twin, x, targets)
        spearman.append(spearman_rank_correlation(original, maps).cpu())
        similarity.append(ssim(original, maps).cpu())
    return RandomizationResult(
        layers=["+".join(group) for group in steps],
        spearman=torch.stack(spearman).numpy().astype(np.float32),
        ssim=torch.stack(similarity).numpy().astype(np.float32),
        method=method if isinstance(method, str) else getattr(method, "__name__", type(method).__name__),
    )


# --- random logit -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RandomLogitResult:
    """Maps for each image's class against a random other class: ``spearman`` and ``ssim`` (B,),
    the classes compared (``classes``, ``random_classes``)."""

    spearman: np.ndarray
    ssim: np.ndarray
    classes: list
    random_classes: list

    @property
    def mean_spearman(self) -> float:
        return float(self.spearman.mean())

    @property
    def mean_ssim(self) -> float:
        return float(self.ssim.mean())


def random_logit_test(
    model: nn.Module,
    input_tensor: torch.Tensor,
    method: MethodLike,
    target_layers: Any,
    targets: Sequence[Callable] | None = None,
    seed: int = 0,
) -> RandomLogitResult:
    """Adebayo et al.'s random logit test: per image, the similarity of the map for its class
    (``targets``, or the predicted class when None) to the map for a random other class (drawn
    with ``seed``; ``ClassifierOutputTarget``). The model is left as it was."""
    check_input(input_tensor)
    targets = check_targets(targets, input_tensor.shape[0])
    compute = _maps_function(method, _layer_names(model, target_layers))
    x = input_tensor.detach()
    with evaluation_mode(model), torch.no_grad():
        outputs = per_image_outputs(select_output(model(x), None), x.shape[0])
    classes_count = outputs.shape[-1]
    if classes_count < 2:
        raise ValueError("the random logit test needs a model with at least two classes")
    if targets is None:
        classes = outputs.argmax(dim=-1).tolist()
        targets = [ClassifierOutputTarget(c) for c in classes]
    else:
        targets = list(targets)
        classes = [getattr(t, "category", None) for t in targets]
        classes = [int(c) if c is not None else p for c, p in zip(classes, outputs.argmax(dim=-1).tolist())]
    generator = torch.Generator().manual_seed(seed)
    others = []
    for c in classes:
        draw = int(torch.randint(classes_count - 1, (1,), generator=generator))
        others.append(draw + 1 if draw >= c else draw)
    original = compute(model, x, targets)
    other = compute(model, x, [ClassifierOutputTarget(c) for c in others])
    return RandomLogitResult(
        spearman=spearman_rank_correlation(original, other).cpu().numpy().astype(np.float32),
        ssim=ssim(original, other).cpu().numpy().astype(np.float32),
        classes=classes,
        random_classes=others,
    )
