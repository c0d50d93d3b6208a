"""rank_methods: every method x layer on the user's images, one capture per layer, sorted by the metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from camwidgets.data.shapes import make_shapes, normalise
from camwidgets.data.shapes_cnn import SHAPES_CNN_LAYER, load_shapes_cnn
from camwidgets.engine.methods.registry import METHODS, single_capture_methods
from camwidgets.metrics import RankingTable, rank_methods
from tests.conftest import CountingForward, Small, assert_unchanged, seeded, snapshot

LAYERS = ["stem.0", "head_conv"]


@pytest.fixture
def images():
    return torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(5))


def test_ranks_every_method_and_layer_by_drop():
    """On the trained shapes CNN, Average Drop separates the layers: every method's map at the last
    block (8 x 8) keeps more of the score than at the second block, where the maps are fragmented."""
    model = load_shapes_cnn()
    images = normalise(make_shapes(6, seed=11).images)
    model.features[0].train()
    before = snapshot(model)
    calls = []
    layers = ["features.1", SHAPES_CNN_LAYER]
    table = rank_methods(
        model, images, layers=layers, metric="drop", progress=lambda d, t, label: calls.append((d, t, label))
    )
    assert_unchanged(model, before)
    methods = single_capture_methods()
    assert isinstance(table, RankingTable) and not table.higher_is_better
    assert {(r.method, r.layer) for r in table.rows} == {(m, layer) for m in methods for layer in layers}
    scores = [r.score for r in table.rows]
    assert scores == sorted(scores)  # Average Drop: lower is better, best first
    by = {(r.method, r.layer): r.score for r in table.rows}
    informed = [
        m for m in methods if m != "randomcam"
    ]  # the random baseline (global RNG) has no reason to prefer a layer
    assert all(by[m, SHAPES_CNN_LAYER] < by[m, "features.1"] for m in informed), table.to_text()
    assert table.best.layer == SHAPES_CNN_LAYER
    assert all(r.seconds > 0 for r in table.rows)
    assert [c[0] for c in calls] == list(range(1, len(table.rows) + 1)) and calls[-1][1] == len(table.rows)
    text = table.to_text()
    assert table.rows[0].method in text.splitlines()[1] and "lower is better" in text
    assert isinstance(table.chart(), Figure)


def test_one_forward_per_layer_and_higher_is_better_for_callables(images):
    model = seeded(Small)

    def mean_map(x, maps, targets, model):  # never runs the model
        return maps.mean(dim=(1, 2)).cpu().numpy()

    gradient_methods = [name for name in single_capture_methods() if METHODS[name].needs_gradients]
    with CountingForward(model) as counter:
        table = rank_methods(model, images, layers=LAYERS, metric=mean_map)
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


def test_scores_carry_their_spread_ties_with_the_best_are_marked_and_the_capture_is_counted_once(images):
    model = seeded(Small)

    def per_image(x, maps, targets, model):  # a per-image score: the map's mean
        return maps.mean(dim=(1, 2)).cpu().numpy()

    table = rank_methods(
        model, images, methods=["gradcam", "gradcam++", "layercam", "eigencam"], layers=["head_conv"], metric=per_image
    )
    best = table.best
    assert best.tied_with_best and len(best.per_image) == 3 and best.error > 0
    for row in table.rows:
        assert row.score == pytest.approx(float(np.mean(row.per_image)))
        assert row.error == pytest.approx(float(np.std(row.per_image, ddof=1) / np.sqrt(3)))
        differences = np.asarray(row.per_image) - np.asarray(best.per_image)
        expected = row is best or abs(differences.mean()) <= 2 * differences.std(ddof=1) / np.sqrt(3)
        assert row.tied_with_best == expected
    assert set(table.capture_seconds) == {"head_conv"} and table.capture_seconds["head_conv"] > 0
    assert table.total_seconds == pytest.approx(table.capture_seconds["head_conv"] + sum(r.seconds for r in table.rows))
    text = table.to_text()
    assert "± s.e." in text and "shared capture" in text
    figure = table.chart()
    labels = [label.get_text() for label in figure.axes[0].get_xticklabels()]
    assert labels == [row.method for row in table.rows]  # bars in rank order


def test_a_clear_winner_is_not_tied(images):
    model = seeded(Small)

    def favour_gradcam(x, maps, targets, model, calls=[]):  # noqa: B006 - counts calls: gradcam is scored first
        calls.append(1)
        return np.full(x.shape[0], 10.0 if len(calls) == 1 else 0.0) + np.random.default_rng(len(calls)).normal(
            0, 0.01, x.shape[0]
        )

    table = rank_methods(model, images, methods=["gradcam", "layercam"], layers=["head_conv"], metric=favour_gradcam)
    assert table.best.method == "gradcam" and not table.rows[1].tied_with_best
