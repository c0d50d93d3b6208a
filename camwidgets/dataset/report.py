"""A shareable HTML report of an :func:`~camwidgets.explain_dataset` run: one self-contained file
with the run's settings, its accuracy and failed rows, a histogram of the chosen column, the
confusion matrix, and the chosen rows in the explorer's overlay and gallery, whose colormap,
opacity and mode switch in the page (:mod:`camwidgets.render.page`: no kernel, no network).
Every text from the run (paths, class names, errors) is HTML-escaped."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from ..render.charts import selection_histogram
from ..render.page import PageView, standalone_page, write_page

__all__ = ["write_report", "chosen_rows"]


def _figure_png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _histogram(values: np.ndarray, chosen: np.ndarray, column: str) -> str:

    return _figure_png(selection_histogram(values, chosen, column, "in the gallery", figsize=(5, 2.4)))


def _confusion(results: Any) -> str:
    classes, counts = results.confusion()
    if not 1 < len(classes) <= 20 or not counts.any():
        return ""
    names = [results.class_name(c) for c in classes]
    head = "".join(f"<th>{html.escape(name)}</th>" for name in names)
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th>"
        + "".join(
            f"<td{' class=bad' if i != j and counts[i, j] else ''}>{counts[i, j]}</td>" for j in range(len(classes))
        )
        + "</tr>"
        for i, name in enumerate(names)
    )
    return f"<h2>Confusion matrix</h2><p>rows: true class; columns: predicted</p><table><tr><th></th>{head}</tr>{rows}</table>"


def chosen_rows(table: Any, rows: Any, column: str, limit: int) -> Any:
    """The table's rows for the gallery: ``rows`` as a DataFrame of the table's rows or a sequence of
    row ids, or by default the lowest by ``column``; at most ``limit``."""
    numeric = [
        name for name in table.columns if name not in ("id", "path", "error") and table[name].dtype.kind in "fiub"
    ]
    if column not in numeric:
        raise ValueError(
            f"column must be a column of numbers to sort and chart by: one of {', '.join(numeric)}; got {column!r}"
        )
    if int(limit) < 1:
        raise ValueError(f"limit must be a positive number of rows; got {limit!r}")
    if rows is None:
        return table.sort_values(column, kind="stable", na_position="last").head(int(limit))
    if hasattr(rows, "columns"):
        if "id" not in rows.columns:
            raise ValueError("rows must be rows of the results' table (with its 'id' column) or a list of row ids")
        return rows.head(int(limit))
    ids = np.asarray(list(rows))
    if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= len(table)):
        raise ValueError(
            f"rows must be row ids from 0 to {len(table) - 1}; got {list(ids[:5])}{' ...' if ids.size > 5 else ''}"
        )
    values, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"rows lists row {values[counts > 1][:5].tolist()} more than once; give each row id once")
    return table.iloc[ids.astype(np.int64)].head(int(limit))


def _caption(row: Any, name: Any, column: str) -> tuple[str, str]:
    """(caption under the thumbnail, status line above the overlay) of one table row, as text."""
    if row.error:
        return f"#{row.id} failed", f"#{row.id} {row.path} · error: {row.error}"
    true = name(row.label) if row.label >= 0 else "no label"
    value = getattr(row, column)
    status = f"#{row.id} {row.path} · true {true}, predicted {name(row.predicted)} ({row.confidence:.3f}) · {column} {value:.3g}"
    return f"#{row.id} {name(row.predicted)} {value:.3g}", status


def write_report(
    results: Any,
    path: str | Path,
    rows: Any = None,
    *,
    column: str = "confidence",
    title: str | None = None,
    limit: int = 48,
) -> Path:
    """Write the report of ``results`` to ``path`` (an ``.html`` file); its gallery shows ``rows``
    (see :func:`chosen_rows`; default the ``limit`` lowest by ``column``), each with its stored map."""

    table = results.table
    chosen = chosen_rows(table, rows, column, limit)
    manifest = results.manifest
    name = results.class_name
    good = table[table["error"] == ""]
    labelled = good[good["label"] >= 0]
    accuracy = f"{labelled['correct'].mean():.1%} of {len(labelled)} labelled images" if len(labelled) else "no labels"
    settings = "".join(
        f"<tr><th>{html.escape(key)}</th><td style='text-align:left'>{html.escape(str(manifest.get(key)))}</td></tr>"
        for key in ("model", "method", "layers", "targets", "metrics", "rows", "failed", "versions")
    )
    ids = chosen["id"].to_numpy()
    photos, levels = results.stored(ids)
    views = []
    for photo, level, row in zip(photos, levels, chosen.itertuples()):
        caption, status = _caption(row, name, column)
        views.append(PageView(key=str(row.id), photo=photo, levels=level, caption=caption, status=status))
    heading = title or f"{manifest.get('method')} over {manifest.get('rows')} images"
    intro = (
        f"<p>accuracy: {html.escape(accuracy)}; failed rows: {html.escape(str(manifest.get('failed')))}. "
        f"The gallery holds {len(chosen)} rows ({html.escape(column)}, lowest first unless chosen); click one to see it large, with its colorbar.</p>"
    )
    sections = (
        f"<h2>{html.escape(column)}</h2><img alt='histogram of {html.escape(column)}' src='{_histogram(table[column].astype(float).to_numpy(), chosen[column].astype(float).to_numpy(), column)}'>"
        f"{_confusion(results)}<h2>Settings</h2><table>{settings}</table>"
    )
    page = standalone_page(
        heading,
        views,
        intro=intro,
        sections=sections,
        gallery_title=f"{len(chosen)} rows",
        thumb_size=int(photos.shape[1]),
    )
    return write_page(path, page)
