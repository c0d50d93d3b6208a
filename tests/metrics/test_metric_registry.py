"""Metrics are plug-ins: a metric is a per-image function plus one registry line, and then
``rank_methods``, the explorer's ranking tab and ``explain_dataset`` all offer it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from camwidgets.metrics import rank_methods
from camwidgets.metrics.registry import METRICS, MetricSpec, mask_metrics, model_metrics, register_metric

from ..conftest import small_model  # noqa: F401  (a fixture)


def mean_mass(input_tensor, cams, targets, model):
    """A toy metric: the mean of each map (lower: a more concentrated map)."""
    return np.asarray(cams, dtype=np.float32).reshape(len(cams), -1).mean(axis=1)


@pytest.fixture
def registered():
    register_metric(MetricSpec("mean_mass", mean_mass, False, summary="the mean of the map"))
    yield
    del METRICS["mean_mass"]


def test_a_metric_registered_in_one_line_is_offered_everywhere(registered, small_model, tmp_path):
    from camwidgets.dataset import explain_dataset

    model = small_model
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    table = rank_methods(model, images, methods=["gradcam", "layercam"], layers=["head_conv"], metric="mean_mass")
    assert table.metric == "mean_mass" and not table.higher_is_better
    assert [row.score for row in table.rows] == sorted(row.score for row in table.rows)  # lower is better: best first
    assert "mean_mass" in model_metrics() and "mean_mass" in model_metrics(datasets=True)

    data = [(np.uint8(np.random.default_rng(i).integers(0, 255, (32, 32, 3))), 0) for i in range(3)]
    results = explain_dataset(model, data, out=tmp_path / "run", target_layers=["head_conv"], metrics=("confidence", "mean_mass"),
                              preprocess=lambda image: torch.as_tensor(np.asarray(image)).permute(2, 0, 1).float() / 255, progress=False)  # fmt: skip
    column = results.table["mean_mass"].to_numpy()
    assert column.shape == (3,) and np.isfinite(column).all() and (column >= 0).all()


def test_the_registry_holds_what_the_tuner_the_tab_and_the_dataset_read():
    assert model_metrics() == ["road", "drop", "deletion", "insertion"]
    assert model_metrics(datasets=True) == ["drop", "deletion", "insertion"]  # ROAD is too slow for whole datasets
    assert mask_metrics() == ["energy_in_object", "mass_outside", "pointing_game"]
    assert [METRICS[name].higher_is_better for name in model_metrics()] == [True, False, False, True]
    with pytest.raises(ValueError, match="'drop' is taken"):
        register_metric(MetricSpec("drop", mean_mass, False))
    with pytest.raises(
        ValueError, match=r"metric must be one of road, drop, deletion, insertion .*needs ground-truth masks"
    ):
        rank_methods(torch.nn.Conv2d(3, 2, 3), torch.rand(1, 3, 8, 8), metric="pointing_game")
