r"""ROAD: RemOve And Debias (Rong et al., https://arxiv.org/abs/2202.00449).

Pixels are removed by the map and filled in by noisy linear imputation (see ``imputation.py``),
which hides the shape of the removed region better than a constant fill, and the target score of
the imputed batch is compared with that of the original: ``s' - s`` per image.

Which pixels go, for a ``percentile`` p (the reference's convention, per image):

* Most Relevant First (MoRF): the pixels with ``cam >= np.percentile(cam, p)`` are imputed, so
  ``p=80`` removes the top 20 % of the map. A faithful map makes the score fall (lower is better).
* Least Relevant First (LeRF): the same on ``1 - cam``, so ``p=20`` removes the 80 % least relevant
  pixels. A faithful map keeps the score (higher is better).

So p is the share of pixels *kept*: p=0 removes every pixel (the infill is then 0 plus noise) and
p=100 only the map's maximum (the minimum for LeRF). The averaged forms take the mean of
``s' - s`` over several percentiles, and ``ROADCombined`` reports ``(LeRF - MoRF) / 2``
(higher is better). The reference's ``percentile='auto'`` (an Otsu threshold) is not supported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine import evaluation_mode
from .confidence import PerturbationConfidenceMetric, check_targets, prepare_batch, target_scores, to_numpy
from .imputation import NEIGHBOUR_WEIGHTS, NoisyLinearImputer

__all__ = [
    "percentile_threshold",
    "RemoveMostRelevantFirst",
    "RemoveLeastRelevantFirst",
    "AveragerAcrossThresholds",
    "ROADMostRelevantFirst",
    "ROADLeastRelevantFirst",
    "ROADMostRelevantFirstAverage",
    "ROADLeastRelevantFirstAverage",
    "ROADCombined",
]

#: NEIGHBOUR_WEIGHTS in the reference's form, ``((row offset, column offset), weight)``.
neighbors_weights = [((row, column), weight) for row, column, weight in NEIGHBOUR_WEIGHTS]

DEFAULT_PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)


def _check_percentile(percentile: Any) -> float:
    if isinstance(percentile, str) and percentile == "auto":
        raise ValueError(
            "percentile='auto' (an Otsu threshold in the reference) is not supported; "
            "pass a number in [0, 100], the share of pixels kept, for example 80"
        )
    if isinstance(percentile, bool) or not isinstance(percentile, Real) or not 0 <= float(percentile) <= 100:
        raise ValueError(f"percentile must be a number in [0, 100] (the share of pixels kept); got {percentile!r}")
    return float(percentile)


def _listed(percentiles: Sequence[float]) -> str:
    return "[" + ", ".join(f"{percentile:g}" for percentile in percentiles) + "]"


def percentile_threshold(maps: torch.Tensor, percentile: float) -> torch.Tensor:
    """Per map of the (B, ...) batch, ``np.percentile(map, percentile)`` (linear interpolation),
    computed in the maps' dtype exactly as numpy does for a Python-number percentile: (B,)."""
    flat = maps.reshape(maps.shape[0], -1)
    count = flat.shape[1]
    position = (count - 1) * (float(percentile) / 100)
    if position >= count - 1:
        return flat.amax(dim=1)
    lower = math.floor(position)
    fraction = position - lower
    ordered = torch.sort(flat, dim=1).values
    below, above = ordered[:, lower], ordered[:, lower + 1]
    difference = above - below
    if fraction >= 0.5:
        return above - difference * torch.tensor(1 - fraction, dtype=flat.dtype, device=flat.device)
    return below + difference * torch.tensor(fraction, dtype=flat.dtype, device=flat.device)


class RemoveMostRelevantFirst:
    """Batched perturbation: impute the pixels with ``cam >= np.percentile(cam, percentile)``,
    keeping ``cam < threshold``; ``imputer(images, keep)`` fills them in."""

    def __init__(self, percentile: float, imputer: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        self.percentile = _check_percentile(percentile)
        self.imputer = imputer

    def keep_mask(self, cams: torch.Tensor) -> torch.Tensor:
        """1 where a pixel stays, 0 where it is imputed, (B, H, W) in the maps' dtype."""
        threshold = percentile_threshold(cams, self.percentile)
        return (cams < threshold.view(-1, *([1] * (cams.ndim - 1)))).to(cams.dtype)

    def __call__(self, input_tensor: torch.Tensor, cams: torch.Tensor) -> torch.Tensor:
        if input_tensor.ndim != 4:
            raise ValueError(
                f"ROAD imputes 2-D images; input_tensor must be (B, C, H, W), got {tuple(input_tensor.shape)}"
            )
        return self.imputer(input_tensor, self.keep_mask(cams))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.percentile:g}, {self.imputer!r})"


class RemoveLeastRelevantFirst(RemoveMostRelevantFirst):
    """Batched perturbation: the same on ``1 - cam``, imputing the least relevant pixels."""

    def keep_mask(self, cams: torch.Tensor) -> torch.Tensor:
        return super().keep_mask(1 - cams)


class ROADMostRelevantFirst(PerturbationConfidenceMetric):
    """ROAD MoRF at one percentile: per image, ``s' - s`` after imputing the pixels with
    ``cam >= np.percentile(cam, percentile)`` (the top ``100 - percentile`` %). Lower is better.

    ``noise`` is the standard deviation of the Gaussian noise added to imputed pixels (the reference's
    0.01; 0 makes the metric deterministic); ``generator`` (on the model's device) seeds it.
    """

    _removal = RemoveMostRelevantFirst

    def __init__(
        self, percentile: float = 80, *, noise: float = 0.01, generator: torch.Generator | None = None
    ) -> None:
        self.imputer = NoisyLinearImputer(noise, generator=generator)
        super().__init__(self._removal(percentile, self.imputer))
        self.percentile = self.perturbation.percentile

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.percentile:g}, noise={self.imputer.noise:g})"


class ROADLeastRelevantFirst(ROADMostRelevantFirst):
    """ROAD LeRF at one percentile: per image, ``s' - s`` after imputing the pixels with
    ``1 - cam >= np.percentile(1 - cam, percentile)`` (the ``100 - percentile`` % least relevant).
    Higher is better."""

    _removal = RemoveLeastRelevantFirst

    def __init__(
        self, percentile: float = 20, *, noise: float = 0.01, generator: torch.Generator | None = None
    ) -> None:
        super().__init__(percentile, noise=noise, generator=generator)


def _score_changes(
    metrics: Sequence[PerturbationConfidenceMetric],
    input_tensor: torch.Tensor,
    cams: Any,
    targets: Sequence[Callable] | None,
    model: nn.Module,
) -> torch.Tensor:
    """``s' - s`` of every metric's perturbation for every image, (len(metrics), B): the original batch
    is scored once, then one perturbation and one forward per metric."""
    x, maps = prepare_batch(input_tensor, cams, model)
    targets = check_targets(targets, x.shape[0])
    with evaluation_mode(model), torch.no_grad():
        before, targets = target_scores(model, x, targets)
        changes = [target_scores(model, metric.perturbation(x, maps), targets)[0] - before for metric in metrics]
    return torch.stack(changes)


class AveragerAcrossThresholds:
    """Per image, the mean of ``metric(percentile)``'s ``s' - s`` over ``percentiles`` (numpy float32 (B,)).

    The original batch is scored once; each percentile costs one imputation and one forward.
    ``imputer`` is a metric class taking ``(percentile, **options)``, such as ``ROADMostRelevantFirst``.
    """

    def __init__(
        self,
        imputer: Callable[..., PerturbationConfidenceMetric],
        percentiles: Sequence[float] = DEFAULT_PERCENTILES,
        **options: Any,
    ) -> None:
        if isinstance(percentiles, (str, Real)) or len(percentiles) == 0:
            raise ValueError(f"percentiles must be a non-empty list of numbers in [0, 100]; got {percentiles!r}")
        self.percentiles = [_check_percentile(percentile) for percentile in percentiles]
        self.imputer = imputer
        self.metrics = [imputer(percentile, **options) for percentile in self.percentiles]

    def differences(
        self, input_tensor: torch.Tensor, cams: Any, targets: Sequence[Callable] | None, model: nn.Module
    ) -> torch.Tensor:
        """``s' - s`` for every percentile and image, (P, B), on the model's device."""
        return _score_changes(self.metrics, input_tensor, cams, targets, model)

    def __call__(
        self, input_tensor: torch.Tensor, cams: Any, targets: Sequence[Callable] | None, model: nn.Module
    ) -> np.ndarray:
        return to_numpy(self.differences(input_tensor, cams, targets, model).mean(dim=0))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_listed(self.percentiles)})"


class ROADMostRelevantFirstAverage(AveragerAcrossThresholds):
    """ROAD MoRF averaged over percentiles: per image, mean of ``s' - s``. Lower is better."""

    def __init__(
        self,
        percentiles: Sequence[float] = DEFAULT_PERCENTILES,
        *,
        noise: float = 0.01,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(ROADMostRelevantFirst, percentiles, noise=noise, generator=generator)


class ROADLeastRelevantFirstAverage(AveragerAcrossThresholds):
    """ROAD LeRF averaged over percentiles: per image, mean of ``s' - s``. Higher is better."""

    def __init__(
        self,
        percentiles: Sequence[float] = DEFAULT_PERCENTILES,
        *,
        noise: float = 0.01,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(ROADLeastRelevantFirst, percentiles, noise=noise, generator=generator)


class ROADCombined:
    """ROAD combined: per image, ``(LeRF_avg - MoRF_avg) / 2`` over ``percentiles`` (numpy float32 (B,)).
    Higher is better: removing the least relevant pixels hurts less than removing the most relevant."""

    def __init__(
        self,
        percentiles: Sequence[float] = DEFAULT_PERCENTILES,
        *,
        noise: float = 0.01,
        generator: torch.Generator | None = None,
    ) -> None:
        self.morf_averager = ROADMostRelevantFirstAverage(percentiles, noise=noise, generator=generator)
        self.lerf_averager = ROADLeastRelevantFirstAverage(percentiles, noise=noise, generator=generator)
        self.percentiles = self.morf_averager.percentiles

    def __call__(
        self, input_tensor: torch.Tensor, cams: Any, targets: Sequence[Callable] | None, model: nn.Module
    ) -> np.ndarray:
        lerf_metrics, morf_metrics = self.lerf_averager.metrics, self.morf_averager.metrics
        changes = _score_changes([*lerf_metrics, *morf_metrics], input_tensor, cams, targets, model)
        lerf, morf = changes[: len(lerf_metrics)].mean(dim=0), changes[len(lerf_metrics) :].mean(dim=0)
        return to_numpy((lerf - morf) / 2)

    def __repr__(self) -> str:
        return f"ROADCombined({_listed(self.percentiles)})"


def road_combined(
    input_tensor: torch.Tensor, cams: Any, targets: Sequence[Callable] | None, model: nn.Module
) -> np.ndarray:
    """:class:`ROADCombined` with its default percentiles, as a function: (B,) scores, higher is better."""
    return ROADCombined()(input_tensor, cams, targets, model)
