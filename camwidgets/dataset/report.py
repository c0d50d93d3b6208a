"""A shareable HTML report of an :func:`~camwidgets.explain_dataset` run: one self-contained file
(pictures embedded as PNG data) with the run's settings, its accuracy and failed rows, a histogram
of the chosen column, the confusion matrix, and a gallery of chosen rows with their maps. Every text
from the run (paths, class names, errors) is HTML-escaped."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from .store import write_atomically

__all__ = ["write_report"]

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
.gallery { display: flex; flex-wrap: wrap; gap: 8px; } figure { margin: 0; width: 136px; font-size: 11px; }
figure img { width: 128px; height: 128px; image-rendering: pixelated; } .bad { background: #fde2e1; }
"""


def _png(picture: np.ndarray) -> str:
    from ..widgets.pictures import to_png

    return "data:image/png;base64," + base64.b64encode(to_png(picture)).decode("ascii")


def _figure_png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _histogram(values: np.ndarray, chosen: np.ndarray, column: str) -> str:
    from ..render.charts import selection_histogram

    return _figure_png(selection_histogram(values, chosen, column, "in the gallery", figsize=(5, 2.4)))


def _confusion(table: Any, classes: list[str]) -> str:
    good = table[(table["error"] == "") & (table["label"] >= 0)]
    count = len(classes)
    if not 1 < count <= 20 or good.empty:
        return ""
    counts = np.zeros((count, count), int)
    np.add.at(counts, (good["label"].to_numpy(), good["predicted"].clip(0, count - 1).to_numpy()), 1)
    head = "".join(f"<th>{html.escape(name)}</th>" for name in classes)
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th>" + "".join(f"<td{' class=bad' if i != j and counts[i, j] else ''}>{counts[i, j]}</td>" for j in range(count)) + "</tr>"
        for i, name in enumerate(classes)
    )
    return f"<h2>Confusion matrix</h2><p>rows: true class; columns: predicted</p><table><tr><th></th>{head}</tr>{rows}</table>"


def write_report(results: Any, path: str | Path, rows: Any = None, *, column: str = "confidence", title: str | None = None, limit: int = 48) -> Path:
    """Write the report of ``results`` to ``path`` (an ``.html`` file); its gallery shows ``rows``
    (a DataFrame of the table's rows, default: the ``limit`` lowest by ``column``), at most ``limit``."""
    table = results.table
    if column not in table.columns:
        raise ValueError(f"no column {column!r}; the table has {', '.join(table.columns)}")
    chosen = (table.sort_values(column, kind="stable", na_position="last") if rows is None else rows).head(int(limit))
    manifest = results.manifest
    classes = list(manifest.get("classes") or [])
    name = lambda index: classes[index] if 0 <= index < len(classes) else str(index)  # noqa: E731
    good = table[table["error"] == ""]
    labelled = good[good["label"] >= 0]
    accuracy = f"{labelled['correct'].mean():.1%} of {len(labelled)} labelled images" if len(labelled) else "no labels"
    settings = "".join(
        f"<tr><th>{html.escape(key)}</th><td style='text-align:left'>{html.escape(str(manifest.get(key)))}</td></tr>"
        for key in ("model", "method", "layers", "targets", "metrics", "rows", "failed", "versions")
    )
    figures = []
    if len(chosen):
        for picture, row in zip(results.thumbnails(chosen["id"].to_numpy()), chosen.itertuples()):
            caption = f"#{row.id} {html.escape(row.path)}<br>" + (
                f"error: {html.escape(row.error)}" if row.error else f"true {html.escape(name(row.label)) if row.label >= 0 else '—'}, predicted {html.escape(name(row.predicted))} ({row.confidence:.3f})<br>{html.escape(column)}: {getattr(row, column):.3g}"
            )
            figures.append(f"<figure><img alt='row {row.id}' src='{_png(picture)}'><figcaption>{caption}</figcaption></figure>")
    heading = html.escape(title or f"{manifest.get('method')} over {manifest.get('rows')} images")
    body = (
        f"<h1>{heading}</h1><p>accuracy: {accuracy}; failed rows: {manifest.get('failed')}</p>"
        f"<h2>Settings</h2><table>{settings}</table>"
        f"<h2>{html.escape(column)}</h2><img alt='histogram of {html.escape(column)}' src='{_histogram(table[column].astype(float).to_numpy(), chosen[column].astype(float).to_numpy(), column)}'>"
        f"{_confusion(table, classes)}"
        f"<h2>Gallery: {len(chosen)} rows</h2><div class='gallery'>{''.join(figures)}</div>"
    )
    document = f"<!doctype html><html><head><meta charset='utf-8'><title>{heading}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, document.encode("utf-8"))
    return target
