"""One registry of the metrics that score maps: :func:`~.tuner.rank_methods`, the explorer's
ranking tab and ``explain_dataset``'s columns all read :data:`METRICS`.

A metric is a per-image function plus a :class:`MetricSpec`. Model metrics score a map by what the
model does with it, ``per_image(input_tensor, cams, targets, model, **options) -> (B,)``; mask
metrics compare it with ground truth, ``per_image(cams, masks) -> (B,)``. Adding one is one function
and one :func:`register_metric` line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cam_mult import drop_fraction, relative_drop
from .deletion import deletion_curve, insertion_curve
from .localization import energy_pointing_game, pointing_game
from .road import road_combined

__all__ = ["MetricSpec", "METRICS", "register_metric", "get_metric", "model_metrics", "mask_metrics"]


@dataclass(frozen=True)
class MetricSpec:
    """``name``; ``per_image`` (see the module docstring); ``higher_is_better``; ``needs_mask``: a
    mask metric; ``datasets``: cheap enough to be a column of ``explain_dataset`` (with
    ``dataset_options`` passed to ``per_image`` there); ``from_scores(before, after)``: the same
    metric from the target scores of the images and of the images multiplied by their maps, for a
    caller that computes those itself (``explain_dataset``, with its own forward); ``summary``: one
    line for menus and docs."""

    name: str
    per_image: Callable[..., Any]
    higher_is_better: bool
    needs_mask: bool = False
    datasets: bool = True
    dataset_options: dict[str, Any] = field(default_factory=dict)
    from_scores: Callable[[Any, Any], Any] | None = None
    summary: str = ""

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"


METRICS: dict[str, MetricSpec] = {}


def register_metric(spec: MetricSpec) -> MetricSpec:
    """Add ``spec`` under its name (a name already taken is a ValueError)."""
    if not spec.name or spec.name in METRICS:
        raise ValueError(f"a metric needs a name of its own; {spec.name!r} is {'empty' if not spec.name else 'taken'}")
    METRICS[spec.name] = spec
    return spec


def get_metric(name: str) -> MetricSpec:
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; registered: {', '.join(METRICS)}")
    return METRICS[name]


def model_metrics(datasets: bool = False) -> list[str]:
    """The metrics that need no mask (only those cheap enough for datasets with ``datasets=True``)."""
    return [name for name, spec in METRICS.items() if not spec.needs_mask and (spec.datasets or not datasets)]


def mask_metrics() -> list[str]:
    return [name for name, spec in METRICS.items() if spec.needs_mask]


def _mass_outside(cams: Any, masks: Any) -> np.ndarray:
    """``1 - energy_in_object``: the share of the map's mass outside the mask."""
    return 1 - energy_pointing_game(cams, masks)


register_metric(
    MetricSpec(
        "road",
        road_combined,
        True,
        datasets=False,
        summary="ROAD: the most and least relevant pixels removed and filled by noisy linear imputation, combined",
    )
)
register_metric(
    MetricSpec(
        "drop",
        relative_drop,
        False,
        from_scores=drop_fraction,
        summary="max(0, Y - O) / Y: how much the score falls when the image is multiplied by its map",
    )
)
register_metric(
    MetricSpec(
        "deletion",
        deletion_curve,
        False,
        dataset_options={"steps": 10},
        summary="area under the score as the most relevant pixels are replaced by a blur",
    )
)
register_metric(
    MetricSpec(
        "insertion",
        insertion_curve,
        True,
        dataset_options={"steps": 10},
        summary="area under the score as the most relevant pixels are revealed on a blur",
    )
)
register_metric(
    MetricSpec(
        "energy_in_object",
        energy_pointing_game,
        True,
        needs_mask=True,
        summary="the share of the map's mass inside the mask",
    )
)
register_metric(
    MetricSpec(
        "mass_outside", _mass_outside, False, needs_mask=True, summary="the share of the map's mass outside the mask"
    )
)
register_metric(
    MetricSpec(
        "pointing_game", pointing_game, True, needs_mask=True, summary="1 when the map's maximum falls in the mask"
    )
)
