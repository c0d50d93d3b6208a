"""Which method and layer explain this model best on these images? Rank every combination by a metric.

:func:`rank_methods` computes every method's maps at every layer on the user's images, with one
capture per layer (an :class:`~camwidgets.engine.explainer.Explainer` with a
:class:`~camwidgets.engine.explainer.CaptureCache`: the gradient methods share one forward and one
backward, the gradient-free ones reuse it), scores each combination with the metric (mean over the
images) and times the map computation. The :class:`RankingTable` lists them best first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine import (
    CaptureCache,
    ClassifierOutputSoftmaxTarget,
    ClassifierOutputTarget,
    Explainer,
    check_input,
    check_targets,
    evaluation_mode,
    get_method,
    module_name,
    per_image_outputs,
    select_output,
    single_capture_methods,
    suggest_target_layer,
)
from ..render.charts import heatmap_table, metric_bar_chart
from .registry import METRICS, model_metrics

__all__ = ["RankingRow", "RankingTable", "rank_methods"]


@dataclass(frozen=True)
class RankingRow:
    """One method at one layer: its ``score`` (the metric's mean over the images), the per-image
    scores (``per_image``; one value for a metric that gives only a batch score), their standard
    error ``error = std / sqrt(n)`` (NaN for one image), ``seconds`` (its own computation; the
    layer's shared capture is in ``RankingTable.capture_seconds``) and ``tied_with_best``: whether
    the paired difference to the best row's per-image scores is within two standard errors of 0."""

    method: str
    layer: str
    score: float
    seconds: float
    per_image: tuple[float, ...] = ()
    error: float = float("nan")
    tied_with_best: bool = False


def _standard_error(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def _tied(row: RankingRow, best: RankingRow) -> bool:
    """Paired over the same images: ``mean(d) <= 2 SE(d)`` with ``d_i = row_i - best_i``."""
    if row is best:
        return True
    if len(row.per_image) < 2 or len(row.per_image) != len(best.per_image):
        return False
    differences = np.asarray(row.per_image) - np.asarray(best.per_image)
    return bool(abs(differences.mean()) <= 2 * _standard_error(differences))


@dataclass(frozen=True, eq=False)
class RankingTable:
    """``rows`` best first (by ``metric``, in the direction ``higher_is_better`` says); rows whose
    difference to the best is within its noise over these images are marked ``tied_with_best``.
    ``capture_seconds``: each layer's shared forward and backward, counted once."""

    rows: list[RankingRow]
    metric: str
    higher_is_better: bool
    layers: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    capture_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def best(self) -> RankingRow:
        return self.rows[0]

    @property
    def total_seconds(self) -> float:
        return sum(self.capture_seconds.values()) + sum(row.seconds for row in self.rows)

    def to_text(self) -> str:
        direction = "higher is better" if self.higher_is_better else "lower is better"
        width = max([len("layer")] + [len(row.layer) for row in self.rows])
        lines = [
            f"{'rank':>4}  {'method':<20} {'layer':<{width}} {self.metric + ' (' + direction + ')':>28} {'± s.e.':>8} {'seconds':>9}"
        ]
        for rank, row in enumerate(self.rows, 1):
            mark = "  ≈ best" if row.tied_with_best and rank > 1 else ""
            lines.append(
                f"{rank:>4}  {row.method:<20} {row.layer:<{width}} {row.score:>28.4f} {row.error:>8.4f} {row.seconds:>9.4f}{mark}"
            )
        images = len(self.best.per_image)
        tied = sum(row.tied_with_best for row in self.rows) - 1
        if tied:
            lines.append(
                f"≈ best: not distinguishable from rank 1 on these {images} images (paired difference within 2 standard errors); more images would tell them apart"
            )
        captures = ", ".join(f"{layer} {seconds:.3f} s" for layer, seconds in self.capture_seconds.items())
        lines.append(
            f"shared capture (one forward and backward per layer, not in the rows): {captures}; total {self.total_seconds:.3f} s"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def chart(self):
        """A matplotlib Figure: for one layer, bars per method sorted by rank with standard-error
        whiskers (ties with the best hatched); for several, a methods x layers table."""

        if len(self.layers) == 1:
            scores = {row.method: row.score for row in self.rows}
            errors = [row.error for row in self.rows]
            tied = [row.tied_with_best for row in self.rows]
            return metric_bar_chart(
                scores,
                self.metric,
                self.higher_is_better,
                title=f"{self.metric} at {self.layers[0]}",
                errors=errors,
                tied=tied,
            )
        table = np.full((len(self.methods), len(self.layers)), np.nan)
        for row in self.rows:
            table[self.methods.index(row.method), self.layers.index(row.layer)] = row.score
        direction = "higher" if self.higher_is_better else "lower"
        return heatmap_table(table, self.methods, self.layers, f"{self.metric} ({direction} is better)")


def _metric(metric: Any, higher_is_better: bool | None) -> tuple[str, Callable[..., Any], bool]:
    """(name, metric(input_tensor, cams, targets, model), higher is better) for a name or a callable."""
    names = model_metrics()
    if isinstance(metric, str):
        if metric not in names:
            needs = " (it needs ground-truth masks)" if metric in METRICS else ""
            raise ValueError(f"metric must be one of {', '.join(names)} or a callable; got {metric!r}{needs}")
        spec = METRICS[metric]
        return metric, spec.per_image, spec.higher_is_better if higher_is_better is None else higher_is_better
    if callable(metric):
        name = getattr(metric, "__name__", type(metric).__name__)
        if higher_is_better is None:
            higher_is_better = bool(getattr(metric, "higher_is_better", True))
        return name, metric, higher_is_better
    raise TypeError(
        f"metric must be a name ({', '.join(names)}) or a callable (input_tensor, cams, targets, model) -> score"
    )


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

    ``metric``: a name from the metric registry that needs no mask (:data:`~.registry.METRICS`:
    ``"road"``, ROAD combined, higher is better; ``"drop"``, the relative drop per image, lower;
    ``"deletion"``, AUC, lower; ``"insertion"``, AUC, higher), or a callable
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
    capture_seconds: dict[str, float] = {}
    for layer in layer_names:
        explainer = Explainer(model, [layer], cache=CaptureCache(max_entries=2))
        _sync(device)
        start = time.perf_counter()
        explainer.capture(images, cam_targets, need_gradients=specs[0].needs_gradients)  # shared by every method below
        _sync(device)
        capture_seconds[layer] = time.perf_counter() - start
        for spec in specs:
            _sync(device)
            start = time.perf_counter()
            maps = explainer.compute(spec, images, cam_targets, progress=False)
            _sync(device)
            seconds = time.perf_counter() - start
            values = np.asarray(score(images, maps, metric_targets, model), dtype=np.float64).reshape(-1)
            results.append(
                RankingRow(
                    spec.name, layer, float(values.mean()), seconds, tuple(values.tolist()), _standard_error(values)
                )
            )
            done += 1
            if progress is not None:
                progress(done, total, f"{spec.name} @ {layer}")
    finite = [r for r in results if np.isfinite(r.score)]
    others = [r for r in results if not np.isfinite(r.score)]
    finite.sort(key=lambda r: -r.score if better_high else r.score)
    ranked = [replace(row, tied_with_best=_tied(row, finite[0])) for row in finite] if finite else []
    return RankingTable(
        ranked + others, metric_name, better_high, layer_names, [spec.name for spec in specs], capture_seconds
    )
