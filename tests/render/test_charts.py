"""Tests for camwidgets.render.charts: what each chart draws, PNG rendering, and pyplot left alone."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from camwidgets.metrics import CurveResult
from camwidgets.render.charts import curve_chart, heatmap_table, metric_bar_chart, road_chart

FRACTIONS = np.linspace(0, 1, 5)


def curve(kind: str, scores) -> CurveResult:
    scores = np.float32(scores)
    return CurveResult(FRACTIONS, scores, np.trapezoid(scores, FRACTIONS, axis=1).astype(np.float32), kind)


@pytest.fixture
def pyplot_untouched():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before, "a chart opened a pyplot figure"


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def legend_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_bar_chart_highlights_the_best(pyplot_untouched):
    values = {"GradCAM": 0.31, "ScoreCAM": 0.25, "EigenCAM": 0.4}
    fig = metric_bar_chart(values, "deletion AUC", higher_is_better=False)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    bars = [container for container in ax.containers if isinstance(container, BarContainer)]
    assert len(bars) == 1 and len(bars[0].patches) == 3
    assert [text.get_text() for text in ax.texts] == ["0.31", "0.25", "0.4"]
    assert [label.get_text() for label in ax.get_xticklabels()] == list(values)
    assert "lower is better" in ax.get_ylabel()
    colours = [patch.get_facecolor() for patch in bars[0].patches]
    assert colours[1] != colours[0] == colours[2]  # the lowest is highlighted
    higher = metric_bar_chart(values, "insertion AUC", higher_is_better=True).axes[0]
    patches = higher.containers[0].patches
    assert patches[2].get_facecolor() != patches[0].get_facecolor() and "higher is better" in higher.get_ylabel()
    assert png_bytes(fig).startswith(b"\x89PNG")


def test_curve_chart_has_one_line_per_method_with_its_auc(pyplot_untouched):
    results = {
        "GradCAM": curve("deletion", [[1, 0.4, 0.2, 0.1, 0.0], [1, 0.6, 0.4, 0.2, 0.0]]),
        "random": curve("deletion", [[1, 0.9, 0.7, 0.5, 0.0], [1, 0.8, 0.6, 0.3, 0.0]]),
    }
    fig = curve_chart(results, "Deletion")
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[0].get_ydata(), results["GradCAM"].scores.mean(axis=0))
    assert legend_texts(ax) == [f"{name} (AUC {result.mean_auc:.3f})" for name, result in results.items()]
    assert ax.get_title() == "Deletion" and ax.get_xlabel() == "fraction of pixels deleted"
    assert png_bytes(fig).startswith(b"\x89PNG")


def test_curve_chart_of_one_result():
    result = curve("insertion", [[0, 0.5, 0.7, 0.9, 1.0]])
    ax = curve_chart(result).axes[0]
    assert len(ax.lines) == 1 and ax.get_title() == "insertion curve"
    assert legend_texts(ax) == [f"insertion (AUC {result.mean_auc:.3f})"]
    assert ax.get_xlabel() == "fraction of pixels inserted"


def test_road_chart_draws_a_line_per_method(pyplot_untouched):
    percentiles = [10, 30, 50, 70, 90]
    scores = {"GradCAM": [-0.3, -0.2, -0.1, -0.05, 0.0], "random": [-0.1, -0.08, -0.05, -0.02, 0.0]}
    fig = road_chart(percentiles, scores)
    ax = fig.axes[0]
    method_lines = [line for line in ax.lines if line.get_label() in scores]
    assert len(method_lines) == 2
    np.testing.assert_array_equal(method_lines[1].get_xdata(), percentiles)
    assert legend_texts(ax) == list(scores)
    assert png_bytes(fig).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="one score per percentile"):
        road_chart(percentiles, {"GradCAM": [0.1, 0.2]})


def test_heatmap_table_writes_every_number(pyplot_untouched):
    values = [[0.1, 0.25, 0.5], [0.75, np.nan, 1.0]]
    fig = heatmap_table(values, ["GradCAM", "ScoreCAM"], ["layer2", "layer3", "layer4"], "pointing game")
    assert len(fig.axes) == 2  # the table and its colour bar
    ax = fig.axes[0]
    assert [text.get_text() for text in ax.texts] == ["0.100", "0.250", "0.500", "0.750", "1.000"]  # NaN left blank
    assert ax.texts[0].get_color() == "white" and ax.texts[-1].get_color() == "black"  # dark cell, light cell
    assert [label.get_text() for label in ax.get_yticklabels()] == ["GradCAM", "ScoreCAM"]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["layer2", "layer3", "layer4"]
    assert ax.get_title() == "pointing game"
    assert png_bytes(fig).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: metric_bar_chart({}, "AUC", True), "non-empty dict"),
        (lambda: curve_chart({}), "non-empty dict"),
        (lambda: heatmap_table([[1, 2]], ["a", "b"], ["x", "y"], "t"), "one label per row"),
        (lambda: heatmap_table([1, 2], ["a"], ["x", "y"], "t"), "2-D table"),
    ],
)
def test_errors_say_what_to_pass(build, message):
    with pytest.raises(ValueError, match=message):
        build()
