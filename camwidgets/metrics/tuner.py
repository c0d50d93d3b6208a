"""Which method and layer explain this model best on these images? Rank every combination by a metric.

:func:`rank_methods` computes every method's maps at every layer on the user's images, with one
capture per layer (an :class:`~camwidgets.engine.explainer.Explainer` with a
:class:`~camwidgets.engine.explainer.CaptureCache`: the gradient methods share one forward and one
backward, the gradient-free ones reuse it), scores each combination with the metric (mean over the
images) and times the map computation. The :class:`RankingTable` lists them best first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..engine.capture import check_input, check_targets
from ..engine.modules import evaluation_mode, per_image_outputs, select_output
from ..engine.explainer import CaptureCache, Explainer
from ..engine.layers import module_name, suggest_target_layer
from ..engine.methods.registry import get_method, single_capture_methods
from ..engine.targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget
from .cam_mult import average_drop
from .deletion import deletion_curve, insertion_curve
from .road import road_combined

__all__ = ["RankingRow", "RankingTable", "rank_methods"]

#: name -> (metric(input_tensor, cams, targets, model) -> score or (B,) scores, higher is better); the
#: reference's argument order, which every metric of the package takes
METRICS: dict[str, tuple[Callable[..., Any], bool]] = {
    "road": (road_combined, True),
    "drop": (average_drop, False),
    "deletion": (deletion_curve, False),
    "insertion": (insertion_curve, True),
}


@dataclass(frozen=True)
class RankingRow:
    """One method at one layer: its ``score`` (the metric's mean over the images) and ``seconds``
    (time to compute its maps, the shared capture counted for the method that ran it)."""

    method: str
    layer: str
    score: float
    seconds: float


@dataclass(frozen=True, eq=False)
class RankingTable:
    """``rows`` best first (by ``metric``, in the direction ``higher_is_better`` says)."""

    rows: list[RankingRow]
    metric: str
    higher_is_better: bool
    layers: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)

    @property
    def best(self) -> RankingRow:
        return self.rows[0]

    def to_text(self) -> str:
        direction = "higher is better" if self.higher_is_better else "lower is better"
        width = max([len("layer")] + [len(row.layer) for row in self.rows])
        lines = [f"{'rank':>4}  {'method':<20} {'layer':<{width}} {self.metric + ' (' + direction + ')':>28} {'seconds':>9}"]
        for rank, row in enumerate(self.rows, 1):
            lines.append(f"{rank:>4}  {row.method:<20} {row.layer:<{width}} {row.score:>28.4f} {row.seconds:>9.4f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def chart(self):
        """A matplotlib Figure: bars per method for one layer, a methods x layers table for several."""
        from ..render.charts import heatmap_table, metric_bar_chart

        if len(self.layers) == 1:
            scores = {row.method: row.score for row in sorted(self.rows, key=lambda r: self.methods.index(r.method))}
            return metric_bar_chart(scores, self.metric, self.higher_is_better, title=f"{self.metric} at {self.layers[0]}")
        table = np.full((len(self.methods), len(self.layers)), np.nan)
        for row in self.rows:
            table[self.methods.index(row.method), self.layers.index(row.layer)] = row.score
        direction = "higher" if self.higher_is_better else "lower"
        return heatmap_table(table, self.methods, self.layers, f"{self.metric} ({direction} is better)")


def _metric(metric: Any, higher_is_better: bool | None) -> tuple[str, Callable[..., Any], bool]:
    """(name, metric(input_tensor, cams, targets, model), higher is better) for a name or a callable."""
    if isinstance(metric, str):
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)} or a callable; got {metric!r}")
        function, default = METRICS[metric]
        return metric, function, default if higher_is_better is None else higher_is_better
    if callable(metric):
        name = getattr(metric, "__name__", type(metric).__name__)
        if higher_is_better is None:
            higher_is_better = bool(getattr(metric, "higher_is_better", True))
        return name, metric, higher_is_better
    raise TypeError(f"metric must be a name ({', '.join(METRICS)}) or a callable (input_tensor, cams, targets, model) -> score")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rank_methods(
    model: nn.Module,
    images: torch.Tensor,
    targets: Sequence[Callable] | None = None,
    methods: Sequence[str] | None = None,
    layers: Any = None,
    metric: str | Callable = "road",
    progress: Callable[[int, int, str], None] | None = None,
    *,
    higher_is_better: bool | None = None,
) -> RankingTable:
    """Every method (default: every single-capture method, see
    :func:`~camwidgets.engine.methods.registry.single_capture_methods`; name ScoreCAM and other
    perturbation methods explicitly to include them) at every layer (modules or names; default: the
    suggested layer), scored by ``metric`` on ``images`` and ranked best first.

    ``metric``: ``"road"`` (ROAD combined, higher is better), ``"drop"`` (Average Drop %, lower),
    ``"deletion"`` (AUC, lower), ``"insertion"`` (AUC, higher), or a callable
    ``metric(input_tensor, cams, targets, model) -> score`` (the reference's argument order; a
    number, a per-image array or anything ``np.mean`` reads, such as a deletion curve; higher is
    better unless it has ``higher_is_better = False`` or ``higher_is_better`` is passed).
    ``targets=None``: each image's predicted class, explained by its logit
    (``ClassifierOutputTarget``) and scored by its probability (``ClassifierOutputSoftmaxTarget``,
    which Average Drop needs). ``progress(done, total, label)`` is called after each combination.
    The model is left as it was.
    """
    check_input(images)
    targets = check_targets(targets, images.shape[0])
    metric_name, score, better_high = _metric(metric, higher_is_better)
    specs = [get_method(name) for name in (methods if methods is not None else single_capture_methods())]
    if not specs:
        raise ValueError("methods must name at least one registered method")
    if len({spec.name for spec in specs}) != len(specs):
        raise ValueError("methods lists a method twice")
    specs.sort(key=lambda spec: not spec.needs_gradients)  # the first capture of a layer then has gradients
    if layers is None:
        layer_names = [suggest_target_layer(model, images)]
    else:
        if isinstance(layers, (str, nn.Module)):
            layers = [layers]
        layer_names = [layer if isinstance(layer, str) else module_name(model, layer) for layer in layers]
    if targets is None:
        with evaluation_mode(model), torch.no_grad():
            rows = per_image_outputs(select_output(model(images), None), images.shape[0])
        classes = rows.argmax(dim=-1).tolist()
        cam_targets: list = [ClassifierOutputTarget(c) for c in classes]
        metric_targets: list = [ClassifierOutputSoftmaxTarget(c) for c in classes]
    else:
        cam_targets = metric_targets = list(targets)
    device = images.device
    total, done, results = len(specs) * len(layer_names), 0, []
    for layer in layer_names:
        explainer = Explainer(model, [layer], cache=CaptureCache(max_entries=2))
        for spec in specs:
            _sync(device)
            start = time.perf_counter()
            maps = explainer.compute(spec, images, cam_targets, progress=False)
            _sync(device)
            seconds = time.perf_counter() - start
            results.append(RankingRow(spec.name, layer, float(np.mean(score(images, maps, metric_targets, model))), seconds))
            done += 1
            if progress is not None:
                progress(done, total, f"{spec.name} @ {layer}")
    finite = [r for r in results if np.isfinite(r.score)]
    others = [r for r in results if not np.isfinite(r.score)]
    finite.sort(key=lambda r: -r.score if better_high else r.score)
    return RankingTable(finite + others, metric_name, better_high, layer_names, [spec.name for spec in specs])
