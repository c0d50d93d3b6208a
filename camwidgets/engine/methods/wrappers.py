r"""Methods built on a base method: FinerCAM, RefineCAM, SESS, SmoothGrad-CAM++.

Each is a ``run`` function; the base method is any registered method (a class such as ``GradCAM``,
its registry name, or a :class:`MethodSpec`), computed through the same explainer, so that it uses
the same model, layers, reshape transform and output selector. SESS lives in :mod:`.sess`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import torch

from ..capture import capture
from ..maps import normalise
from ..progress import Progress
from ..targets import FinerWeightedTarget
from .combine import weighted_channels
from .gradient import plusplus_weights
from .registry import MethodCall, MethodSpec, base_spec
from .seeding import seeded_generator

__all__ = [
    "ClosestClassesTarget",
    "finercam",
    "refinecam",
    "smoothgradcampp",
    "check_smoothgrad_options",
    "inner_explainer",
    "SPECS",
]

DEFAULT_COMPARISON_CATEGORIES = (1, 2, 3)


class ClosestClassesTarget:
    r"""Finer-CAM's default target, chosen from each image's own scores ``y``: the main class ``m`` is
    the one whose score is closest to the top score (or to ``y[target_idx]``), the comparison classes
    are the ones at the given ranks of ``|y - y[m]|`` (1, 2, 3: the three most similar), and the score
    is :class:`FinerWeightedTarget`'s ``sum_k p_k (y[m] - alpha y[k]) / sum_k p_k``."""

    def __init__(
        self, alpha: float = 1, comparison_categories: Sequence[int] | None = None, target_idx: int | None = None
    ) -> None:
        self.alpha = alpha
        self.comparison_categories = comparison_categories
        self.target_idx = target_idx

    def resolve(self, scores: torch.Tensor) -> FinerWeightedTarget:
        """The concrete target for one image's (classes,) scores."""
        count = scores.shape[-1]
        if self.comparison_categories is None:
            ranks = list(DEFAULT_COMPARISON_CATEGORIES[: max(count - 1, 0)])
        else:
            ranks = [int(rank) for rank in self.comparison_categories if rank < count]
        scores = scores.detach()
        anchor = scores.max() if self.target_idx is None else scores[self.target_idx]
        order = torch.argsort((scores - anchor).abs(), stable=True).tolist()
        return FinerWeightedTarget(order[0], [order[rank] for rank in ranks], self.alpha)

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        return self.resolve(model_output)(model_output)

    def cache_key(self) -> Hashable:
        ranks = None if self.comparison_categories is None else tuple(self.comparison_categories)
        return ("ClosestClassesTarget", float(self.alpha), ranks, self.target_idx)


def inner_explainer(explainer: Any, layers: list | None = None) -> Any:
    """The explainer for a wrapper's inner calls: no cache (inner batches are not reused), per-image
    normalisation (the inner maps are combined; the outer call normalises as configured)."""
    return explainer.replace(cache=None, normalise="image", **({} if layers is None else {"target_layers": layers}))


def finercam(call: MethodCall) -> torch.Tensor:
    r"""Finer-CAM (https://arxiv.org/abs/2501.11309): the base method's map (GradCAM by default) for
    a contrastive target ``sum_k p_k (y[m] - alpha y[k]) / sum_k p_k`` between the explained class
    ``m`` and its most similar classes ``k`` (options ``alpha``, ``comparison_categories`` as ranks of
    similarity, ``target_idx``). Explicit ``targets`` are used as given."""
    options = call.options
    targets = call.targets
    if targets is None:
        chooser = ClosestClassesTarget(options["alpha"], options["comparison_categories"], options["target_idx"])
        targets = [chooser] * call.input_tensor.shape[0]
    spec = base_spec(options["base_method"])
    return call.explainer.compute(
        spec,
        call.input_tensor,
        targets,
        eigen_smooth=call.eigen_smooth,
        options=options["base_options"],
        progress=call.progress,
    )


def refinecam(call: MethodCall) -> torch.Tensor:
    r"""RefineCAM (https://arxiv.org/abs/2605.14641): ``N(prod_l M_l)``, the element-wise product of
    the base method's (GradCAM++ by default) maps of each target layer on its own, each in [0, 1];
    the coarse deep layers keep what is on the object, the fine early layers sharpen it."""
    layers = call.explainer.layers
    if len(layers) < 2:
        raise ValueError(
            f"RefineCAM multiplies the maps of two or more target layers; got {len(layers)} "
            f"({', '.join(repr(name) for name, _ in layers)}). Pass several layers, for example [model.layer3, model.layer4]."
        )
    base = base_spec(call.options["base_method"])
    maps = call.explainer.per_layer_maps(
        base,
        call.input_tensor,
        call.targets,
        eigen_smooth=call.eigen_smooth,
        options=call.options["base_options"],
        progress=call.progress,
        normalise="image",
    )
    return normalise(torch.stack(maps).prod(dim=0), call.explainer.normalise)


def check_smoothgrad_options(options: dict) -> None:
    num_samples, std = options["num_samples"], options["std"]
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer; got {num_samples!r}")
    if not isinstance(std, (int, float)) or std < 0:
        raise ValueError(
            f"std must be a non-negative number (the noise's standard deviation on the input); got {std!r}"
        )


def smoothgradcampp(call: MethodCall) -> torch.Tensor:
    r"""SmoothGrad-CAM++ (https://arxiv.org/abs/1908.01224), with torchcam's defaults
    (``num_samples=4``, ``std=0.3``): Grad-CAM++ with the gradient's powers averaged over noisy copies
    ``x + N(0, std^2)`` of the input, ``w_c = sum_ij alpha relu(mean G)``,
    ``alpha = mean G^2 / (2 mean G^2 + sum_ij(A_c) mean G^3 + 1e-6)``, on the clean activations ``A``;
    ``std=0`` gives GradCAMPlusPlus. ``seed`` makes the noise repeatable."""
    explainer = call.explainer
    options = call.options
    num_samples, std = options["num_samples"], options["std"]
    x = call.input_tensor
    clean = explainer.capture(x, call.targets, need_gradients=False)
    targets = clean.targets if clean.targets is not None else call.targets
    activations = [explainer.spatial(r.activation, clean, r.name) for r in clean.records]
    moments = [[torch.zeros_like(a) for _ in range(3)] for a in activations]
    generator = seeded_generator(options["seed"], x.device)
    with Progress(num_samples, "SmoothGrad-CAM++ samples", call.progress) as progress:
        for _ in range(num_samples):
            noisy = x + std * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            result = capture(
                explainer.model,
                noisy,
                explainer.layers,
                targets,
                need_gradients=True,
                output_selector=explainer.output_selector,
                calls=explainer.layer_calls,
            )
            for record, sums in zip(result.records, moments):
                gradient = explainer.spatial(record.gradient, result, record.name)
                for power, total in enumerate(sums, start=1):
                    total.add_(gradient.pow(power))
            progress.advance()
    raw = []
    for a, (first, second, third) in zip(activations, moments):
        weights = plusplus_weights(a, first / num_samples, second / num_samples, third / num_samples)
        raw.append(weighted_channels(weights, a, call.eigen_smooth))
    return explainer.finish(raw, clean.image_size)


SPECS = (
    MethodSpec(
        name="finercam", class_name="FinerCAM", family="gradient", needs_gradients=True, cost=1.0, run=finercam,
        summary="base method on a class-vs-similar-classes target", paper="https://arxiv.org/abs/2501.11309",
        options={"base_method": "gradcam", "alpha": 1, "comparison_categories": None, "target_idx": None, "base_options": {}},
        keyword_only=("alpha", "comparison_categories", "target_idx", "base_options"), call="forward",
        call_options=("alpha", "comparison_categories", "target_idx"),
    ),
    MethodSpec(
        name="refinecam", class_name="RefineCAM", family="gradient", needs_gradients=True, cost=1.0, run=refinecam,
        summary="product of the base method's maps of several layers", paper="https://arxiv.org/abs/2605.14641",
        options={"base_method": "gradcam++", "base_options": {}}, keyword_only=("base_options",), call="forward",
    ),
    MethodSpec(
        name="smoothgradcampp", class_name="SmoothGradCAMpp", family="gradient", needs_gradients=True, cost=5.0, run=smoothgradcampp,
        summary="Grad-CAM++ with gradients averaged over noisy inputs", paper="https://arxiv.org/abs/1908.01224",
        options={"num_samples": 4, "std": 0.3, "seed": None}, keyword_only=("seed",), check=check_smoothgrad_options,
        passes=lambda options, channels: options["num_samples"] + 1,
    ),
)  # fmt: skip
