"""Charts of metric results: bars per method, deletion/insertion and ROAD curves, a table of numbers.

Every chart is a :class:`matplotlib.figure.Figure` built directly, never through pyplot, so it works
headless and leaves pyplot's figure list alone. Show one in a notebook by returning it, or save it
with ``fig.savefig(path)`` (or ``grid.save_figure``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from ..metrics.deletion import CurveResult

__all__ = [
    "metric_bar_chart",
    "curve_chart",
    "road_chart",
    "heatmap_table",
    "selection_histogram",
    "chart_theme",
    "THEMES",
]

_BAR = "#9aa5b1"
_BEST = "#2a7ab9"

#: Matplotlib settings per notebook theme: 'light' is matplotlib's own, 'dark' JupyterLab Dark's
#: background with light text and axes.
THEMES: dict[str, dict[str, str]] = {
    "light": {},
    "dark": {
        **dict.fromkeys(("figure.facecolor", "axes.facecolor", "savefig.facecolor", "legend.facecolor"), "#111111"),
        **dict.fromkeys(("text.color", "axes.labelcolor", "xtick.color", "ytick.color"), "#e0e0e0"),
        "axes.edgecolor": "#9e9e9e",
        "legend.edgecolor": "#616161",
    },
}


def chart_theme(theme: str) -> contextlib.AbstractContextManager:
    """A context in which charts are built (and saved) in a notebook theme's colours, 'light' or 'dark'."""
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}; got {theme!r}")
    return matplotlib.rc_context(THEMES[theme])


def _check_numbers(values: Sequence[float], what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{what} must be a non-empty sequence of numbers; got shape {array.shape}")
    return array


def _check_mapping(values: Mapping, what: str) -> None:
    if not isinstance(values, Mapping) or len(values) == 0:
        raise ValueError(f"{what} must be a non-empty dict {{method name: values}}; got {values!r}")


def metric_bar_chart(
    values: Mapping[str, float],
    metric_name: str,
    higher_is_better: bool,
    *,
    title: str | None = None,
    errors: Sequence[float] | None = None,
    tied: Sequence[bool] | None = None,
) -> Figure:
    """One bar per method (``{method name: value}``), in the given order, each labelled with its value;
    the best bar (highest or lowest, as ``higher_is_better`` says) is highlighted, and the y axis says
    which way is better. ``errors``: a whisker of that size on each bar (NaN: none); ``tied``: bars
    that cannot be told apart from the best, hatched and named in the legend."""
    _check_mapping(values, "values")
    numbers = _check_numbers(list(values.values()), "values")
    best = (
        int(np.nanargmax(numbers) if higher_is_better else np.nanargmin(numbers)) if np.isfinite(numbers).any() else -1
    )
    fig = Figure(figsize=(max(4.0, 0.9 * len(numbers) + 1.5), 3.8), layout="constrained")
    ax = fig.subplots()
    colours = [_BEST if i == best else _BAR for i in range(len(numbers))]
    whiskers = None if errors is None else np.nan_to_num(np.asarray(errors, dtype=np.float64), nan=0.0)
    bars = ax.bar(
        list(values.keys()),
        numbers,
        color=colours,
        yerr=whiskers,
        capsize=3 if whiskers is not None else 0,
        ecolor=matplotlib.rcParams["text.color"],
    )
    if tied is not None:
        for index, (bar, same) in enumerate(zip(bars, tied)):
            if same and index != best:
                bar.set_hatch("//")
                bar.set_label("≈ best (within 2 standard errors)")
        if any(same for index, same in enumerate(tied) if index != best):
            handles, labels = ax.get_legend_handles_labels()
            ax.legend(handles[:1], labels[:1], fontsize=8, loc="best")
    ax.bar_label(bars, labels=[f"{v:.3g}" for v in numbers], padding=2, fontsize=8)
    direction = "higher is better" if higher_is_better else "lower is better"
    ax.set_ylabel(f"{metric_name} ({direction})")
    ax.set_title(title if title is not None else metric_name)
    ax.margins(y=0.15)
    if len(numbers) > 4:
        for label in ax.get_xticklabels():  # slanted and anchored at their bars, so they do not overlap
            label.set_rotation(35)
            label.set_horizontalalignment("right")
    return fig


def selection_histogram(
    values: np.ndarray,
    selected: np.ndarray,
    name: str,
    selected_label: str = "selected",
    figsize: tuple[float, float] = (4.2, 2.2),
) -> Figure:
    """A histogram of ``values`` (every row, grey) with the ``selected`` rows' values over it (blue),
    on the same 30 bins; values that are not finite (failed rows) are left out."""
    figure = Figure(figsize=figsize, layout="constrained")
    axes = figure.subplots()
    finite = values[np.isfinite(values)]
    if finite.size:
        bins = np.histogram_bin_edges(finite, bins=30)
        axes.hist(finite, bins=bins, color=_BAR, label="all rows")
        axes.hist(selected[np.isfinite(selected)], bins=bins, color=_BEST, label=selected_label)
        axes.legend(fontsize=7)
    axes.set_xlabel(name)
    axes.set_ylabel("images")
    return figure


def _curve_label(kind: str) -> str:
    verbs = {"deletion": "deleted", "insertion": "inserted"}
    return f"fraction of pixels {verbs[kind]}" if kind in verbs else "fraction of pixels"


def curve_chart(results: CurveResult | Mapping[str, CurveResult], title: str | None = None) -> Figure:
    """Deletion or insertion curves: per method (``{method name: CurveResult}``, or one result), the
    score averaged over the images against the fraction of pixels, with the mean AUC in the legend."""
    if not isinstance(results, Mapping):
        results = {results.kind or "map": results}
    _check_mapping(results, "results")
    kinds = {result.kind for result in results.values()}
    kind = kinds.pop() if len(kinds) == 1 else ""
    fig = Figure(figsize=(5.2, 3.6), layout="constrained")
    ax = fig.subplots()
    for name, result in results.items():
        ax.plot(result.fractions, np.mean(result.scores, axis=0), label=f"{name} (AUC {result.mean_auc:.3f})")
    ax.set_xlabel(_curve_label(kind))
    ax.set_ylabel("score")
    ax.set_xlim(0, 1)
    ax.set_title(title if title is not None else (f"{kind} curve" if kind else "curves"))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def road_chart(
    percentiles: Sequence[float], scores_by_method: Mapping[str, Sequence[float]], *, title: str = "ROAD"
) -> Figure:
    """ROAD results: per method (``{method name: one score per percentile}``), the score change
    against the percentile, one line with markers each."""
    x = _check_numbers(percentiles, "percentiles")
    _check_mapping(scores_by_method, "scores_by_method")
    fig = Figure(figsize=(5.2, 3.6), layout="constrained")
    ax = fig.subplots()
    for name, scores in scores_by_method.items():
        y = _check_numbers(scores, f"the scores of {name!r}")
        if y.shape != x.shape:
            raise ValueError(
                f"method {name!r} has {y.size} scores for {x.size} percentiles; pass one score per percentile"
            )
        ax.plot(x, y, marker="o", label=name)
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.set_xlabel("percentile")
    ax.set_ylabel("score change")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def heatmap_table(
    values: Sequence[Sequence[float]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str,
    *,
    cmap: str = "viridis",
    fmt: str = "{:.3f}",
) -> Figure:
    """A table of numbers (for example methods x layers) as a coloured grid with the number in each
    cell (NaN cells are left blank) and a colour bar."""
    table = np.asarray(values, dtype=np.float64)
    if table.ndim != 2 or table.size == 0:
        raise ValueError(f"values must be a non-empty 2-D table (rows x columns); got shape {table.shape}")
    if (len(row_labels), len(col_labels)) != table.shape:
        raise ValueError(
            f"got {len(row_labels)} row labels and {len(col_labels)} column labels for a {table.shape[0]}x{table.shape[1]} table; "
            "pass one label per row and per column"
        )
    rows, columns = table.shape
    fig = Figure(figsize=(1.1 * columns + 2.5, 0.5 * rows + 1.4), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(table), cmap=cmap, aspect="auto")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(columns), labels=list(col_labels))
    ax.set_yticks(range(rows), labels=list(row_labels))
    ax.set_title(title)
    for (i, j), value in np.ndenumerate(table):
        if math.isfinite(value):
            ax.text(j, i, fmt.format(value), ha="center", va="center", color=_text_colour(image, value), fontsize=8)
    return fig


def _text_colour(image, value: float) -> str:
    """Black on light cells, white on dark ones (by the cell colour's luma)."""
    red, green, blue, _ = image.cmap(image.norm(value))
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"
