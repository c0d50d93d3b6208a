"""rank_methods: every method x layer on the user's images, one capture per layer, sorted by the metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from camwidgets.engine.methods.registry import METHODS
from camwidgets.metrics import RankingTable, rank_methods
from tests.conftest import CountingForward, Small, assert_unchanged, mixed_state, seeded, snapshot

LAYERS = ["stem.0", "head_conv"]


@pytest.fixture
def images():
    return torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(5))


def test_ranks_every_method_and_layer_by_drop(images):
    model = seeded(Small)
    mixed_state(model)
    before = snapshot(model)
    calls = []
    table = rank_methods(model, images, layers=LAYERS, metric="drop", progress=lambda d, t, label: calls.append((d, t, label)))
    assert_unchanged(model, before)
    assert isinstance(table, RankingTable) and not table.higher_is_better
    assert len(table.rows) == len(METHODS) * 2
    assert {(r.method, r.layer) for r in table.rows} == {(m, l) for m in METHODS for l in LAYERS}
    scores = [r.score for r in table.rows]
    assert scores == sorted(scores)  # Average Drop: lower is better, best first
    assert all(r.seconds > 0 for r in table.rows)
    assert [c[0] for c in calls] == list(range(1, len(table.rows) + 1)) and calls[-1][1] == len(table.rows)
    text = table.to_text()
    assert table.rows[0].method in text.splitlines()[1] and "lower is better" in text
    assert isinstance(table.chart(), Figure)


def test_one_forward_per_layer_and_higher_is_better_for_callables(images):
    model = seeded(Small)

    def mean_map(model, x, maps, targets):  # never runs the model
        return maps.mean(dim=(1, 2)).cpu().numpy()

    gradient_methods = [name for name, spec in METHODS.items() if spec.needs_gradients]
    with CountingForward(model) as counter:
        table = rank_methods(model, images, methods=list(METHODS), layers=LAYERS, metric=mean_map)
    # one forward for the predicted classes, then one capture per layer shared by all methods
    assert counter.count == 1 + len(LAYERS), counter.count
    scores = [r.score for r in table.rows]
    assert table.higher_is_better and scores == sorted(scores, reverse=True)
    with CountingForward(model) as counter:
        rank_methods(model, images, methods=gradient_methods, layers=["head_conv"], metric=mean_map)
    assert counter.count == 2
    figure = rank_methods(model, images, methods=["gradcam", "eigencam"], layers=["head_conv"], metric=mean_map).chart()
    assert isinstance(figure, Figure)


def test_bad_metric():
    with pytest.raises(ValueError, match="metric"):
        rank_methods(seeded(Small), torch.zeros(1, 3, 16, 16), metric="nope")
