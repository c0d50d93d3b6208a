"""DatasetExplorer: browse the results of :func:`~camwidgets.explain_dataset` to find the images
whose explanation is wrong, without computing anything again.

A page of thumbnails (the stored photos with their stored maps, one binary buffer per page: only
the page crosses to the browser), sorted by any column and filtered (misclassified, correct or
failed rows; one true class; one predicted class; a range of the sort column). A histogram of the
sort column marks the filtered rows; for up to :data:`MAX_CONFUSION` classes a confusion matrix of
buttons filters to one (true, predicted) cell. Clicking a thumbnail shows that row large in an
:class:`~camwidgets.widgets.overlay.OverlayView` (colormap and opacity in the browser) with its
row of the table, and, given the model, "Open in CAMExplorer" explores it with other layers,
methods and targets.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..dataset import DatasetResults, load_results
from ..dataset.report import write_report
from ..dataset.sources import as_dataset, item_parts
from ..engine import METHODS
from ..render.charts import chart_theme, selection_histogram
from ..render.page import app_page, write_page
from ..widgets.fields import HTML, Button, Checkbox, Dropdown, RangeSlider
from ..widgets.overlay import OverlayView
from ..widgets.page_text import image_widget, text_html
from ..widgets.parts import SEPARATOR, Column, Grid, PartsWidget, Row, saved_state
from ..widgets.thumbnails import ThumbnailGrid
from .export import pick_answer
from .view import ExplorerView

__all__ = ["DatasetExplorer", "MAX_CONFUSION"]

MAX_CONFUSION = 20
ALL = "all"
SHOWN = ("all rows", "misclassified", "correct", "failed")


class DatasetExplorer(PartsWidget):
    """Browse ``results`` (a :class:`~camwidgets.dataset.DatasetResults` or its ``out`` folder).
    ``model`` (with ``data`` and ``preprocess`` as given to ``explain_dataset``, or the image files
    under the manifest's ``root``) lets a row open in a :class:`~camwidgets.CAMExplorer`."""

    def __init__(
        self,
        results: Any,
        model: Any = None,
        *,
        data: Any = None,
        preprocess: Any = None,
        page_size: int = 40,
        columns: int = 8,
    ) -> None:

        self.results = results if isinstance(results, DatasetResults) else load_results(results)
        self.model, self.data, self.preprocess = model, data, preprocess
        self.table = self.results.table
        self.classes = list(
            self.results.manifest.get("classes") or []
        )  # names; any class index opens (results.class_name)
        self.page_size, self.page = int(page_size), 0
        numeric = [
            name
            for name in self.table.columns
            if name not in ("path", "error") and self.table[name].dtype.kind in "fiub"
        ]
        self.sort = Dropdown(
            description="Sort by", options=numeric, value="confidence" if "confidence" in numeric else numeric[0]
        )
        self.descending = Checkbox(description="highest first", value=False)
        self.shown = Dropdown(description="Rows", options=SHOWN)
        choices = [(ALL, -2)] + [(f"{self.results.class_name(i)} ({i})", i) for i in self.results.class_indices()]
        self.label = Dropdown(description="True class", options=choices, value=-2)
        self.predicted = Dropdown(description="Predicted", options=choices, value=-2)
        self.range = RangeSlider(description="Range", min=0.0, max=1.0, step=0.01, value=[0.0, 1.0])
        self.previous, self.next = Button(description="◀ Previous"), Button(description="Next ▶")
        self.summary = HTML()
        self.gallery = ThumbnailGrid(
            testid="cw-dataset-gallery", item_testid="cw-dataset-item", columns=int(columns), title=""
        )
        self.histogram = image_widget(width="420px")
        self.histogram.alt = "histogram of the sort column: click a bar to show only its rows"
        self.histogram.on_click(self._histogram_clicked)
        self._histogram_axes: tuple | None = (
            None  # (x0, x1) of the axes in the picture, (low, high) of the values, bin edges
        )
        self.confusion = Column(css="cw-confusion")
        self.overlay = OverlayView()
        self.details = HTML()
        self.hint = HTML(value=text_html("Click a thumbnail to see its photo and map large."))
        self.open_button = Button(description="Open in CAMExplorer", disabled=model is None)
        self.explorer_area = Column(css="cw-explorer-area")  # a row opened in a CAMExplorer shows here
        self._reset_range()
        self._build_confusion()
        controls = Column(
            [Row([self.sort, self.descending, self.shown]), Row([self.label, self.predicted, self.range])]
        )
        pager = Row([self.previous, self.next, self.summary])
        detail = Column([self.overlay, self.details, self.open_button], visible=False)  # once a row is chosen
        self.detail = detail
        root = Column(
            [
                controls,
                pager,
                Row([self.gallery, Column([self.histogram, self.confusion])]),
                self.hint,
                detail,
                self.explorer_area,
            ],
            css="cw-dataset-explorer",
        )
        super().__init__(root, testid="cw-dataset-explorer")
        for widget in (self.descending, self.shown, self.label, self.predicted, self.range):
            widget.observe(lambda change: self._refresh(first_page=True), names="value")
        self.sort.observe(lambda change: (self._reset_range(), self._refresh(first_page=True)), names="value")
        self.previous.on_click(lambda _: self.turn(-1))
        self.next.on_click(lambda _: self.turn(1))
        self.gallery.observe(lambda change: change["new"] and self.show_row(int(change["new"])), names="selected")
        self.open_button.on_click(lambda _: self.open_in_explorer())
        self.overlay.observe(lambda change: self._draw_histogram(), names="theme")
        self._refresh(first_page=True)

    # -- selection --------------------------------------------------------------------------------
    def selection(self) -> Any:
        """The rows that pass the filters, in the chosen order (a pandas DataFrame)."""
        table = self.table
        mask = np.ones(len(table), bool)
        if self.shown.value == "misclassified":
            mask &= (table["error"] == "").to_numpy() & ~table["correct"].to_numpy() & (table["label"] >= 0).to_numpy()
        elif self.shown.value == "correct":
            mask &= table["correct"].to_numpy()
        elif self.shown.value == "failed":
            mask &= (table["error"] != "").to_numpy()
        if self.label.value != -2:
            mask &= (table["label"] == self.label.value).to_numpy()
        if self.predicted.value != -2:
            mask &= (table["predicted"] == self.predicted.value).to_numpy()
        values = table[self.sort.value].astype(float).to_numpy()
        low, high = self.range.value
        mask &= ~np.isfinite(values) | (
            (values >= low - 1e-9) & (values <= high + 1e-9)
        )  # rows without a value (failed) stay
        chosen = table[mask]
        return chosen.sort_values(
            self.sort.value, ascending=not self.descending.value, kind="stable", na_position="last"
        )

    def filter(self, **values: Any) -> None:
        """Set filters from Python: ``shown``, ``label``, ``predicted`` (class index or None), ``sort``, ``descending``."""
        with self.hold_trait_notifications():
            for name, value in values.items():
                widget = getattr(self, name)
                widget.value = -2 if name in ("label", "predicted") and value is None else value

    def turn(self, step: int) -> None:
        """Go ``step`` pages on (negative: back), within the selection."""
        pages = max(1, -(-len(self.selection()) // self.page_size))
        self.page = min(max(0, self.page + step), pages - 1)
        self._refresh()

    # -- drawing ----------------------------------------------------------------------------------
    def _reset_range(self) -> None:
        values = self.table[self.sort.value].astype(float).to_numpy()
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        high = high if high > low else low + 1.0
        with self.range.hold_trait_notifications():
            self.range.min, self.range.max = min(low, self.range.min), max(high, self.range.max)
            self.range.min, self.range.max = low, high
            self.range.step = (high - low) / 100
            self.range.value = (low, high)

    def _refresh(self, first_page: bool = False) -> None:
        if first_page:
            self.page = 0
        chosen = self.selection()
        start = self.page * self.page_size
        page = chosen.iloc[start : start + self.page_size]
        ids = page["id"].to_numpy()
        if len(ids):
            captions = [self._caption(row) for row in page.itertuples()]
            self.gallery.set_pictures([str(i) for i in ids], self.results.thumbnails(ids), captions=captions)
        else:
            self.gallery.set_pictures([], np.zeros((0, 8, 8, 3), np.uint8))
            self.gallery.message = "no row passes these filters"
        pages = max(1, -(-len(chosen) // self.page_size))
        end = min(start + self.page_size, len(chosen))
        order = "highest" if self.descending.value else "lowest"
        self.summary.value = text_html(
            f"rows {start + 1 if len(chosen) else 0}–{end} of {len(chosen)} (of {len(self.table)}), {order} {self.sort.value} first · page {self.page + 1} of {pages}"
        )
        self.previous.disabled, self.next.disabled = self.page == 0, self.page >= pages - 1
        self._draw_histogram(chosen)

    def _caption(self, row: Any) -> str:
        if row.error:
            return f"#{row.id} failed"
        return f"#{row.id} {self.results.class_name(row.predicted)} {getattr(row, self.sort.value):.3g}"

    def _draw_histogram(self, chosen: Any = None) -> None:
        """The sort column over every row (grey) and the selection (blue), in the notebook's theme."""
        chosen = self.selection() if chosen is None else chosen
        column = self.sort.value
        with chart_theme(self.overlay.theme):
            figure = selection_histogram(
                self.table[column].astype(float).to_numpy(), chosen[column].astype(float).to_numpy(), column
            )
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=80)
        self.histogram.value = buffer.getvalue()
        values = self.table[column].astype(float).to_numpy()
        finite = values[np.isfinite(values)]
        if finite.size and figure.axes:
            axes = figure.axes[0]  # placed by the drawing above
            box = axes.get_position()
            self._histogram_axes = ((box.x0, box.x1), axes.get_xlim(), np.histogram_bin_edges(finite, bins=30))

    def _histogram_clicked(self, x: float, y: float) -> None:
        """A click on the histogram: the range becomes the clicked bar's (x as a fraction of the picture)."""
        if self._histogram_axes is None:
            raise ValueError("the histogram has no bars")
        (left, right), (low, high), edges = self._histogram_axes
        if not left <= x <= right:
            raise ValueError("click a bar of the histogram")
        value = low + (x - left) / (right - left) * (high - low)
        index = int(np.clip(np.searchsorted(edges, value, side="right") - 1, 0, len(edges) - 2))
        self.range.value = [float(edges[index]), float(edges[index + 1])]

    def _build_confusion(self) -> None:
        """Buttons (true class x predicted class) with counts; a click filters to that cell."""
        classes, counts = self.results.confusion()
        count = len(classes)
        if not 1 < count <= MAX_CONFUSION:
            self.confusion.children = [
                HTML(value=text_html(f"confusion matrix: {count} classes (shown for 2 to {MAX_CONFUSION})"))
            ]
            return
        names = [self.results.class_name(c) for c in classes]
        header = [HTML(value=text_html("true \\ predicted"))] + [HTML(value=text_html(name[:10])) for name in names]
        cells = list(header)
        self.confusion_buttons: dict[tuple[int, int], Button] = {}
        for i, (true, name) in enumerate(zip(classes, names)):
            cells.append(HTML(value=text_html(name[:10])))
            for j, predicted in enumerate(classes):
                button = Button(description=str(counts[i, j]), css="cw-danger" if i != j and counts[i, j] else "")
                button.on_click(
                    lambda _, true=true, predicted=predicted: self.filter(
                        label=true, predicted=predicted, shown="all rows"
                    )
                )
                self.confusion_buttons[(true, predicted)] = button
                cells.append(button)
        grid = Grid(cells, columns=f"repeat({count + 1}, auto)")
        self.confusion.children = [HTML(value="<b>Confusion matrix</b> (click a cell to show its images)"), grid]

    def save_report(self, path: str | Path, limit: int = 48) -> Path:
        """An HTML report of the run with the rows selected now (filters and order) in its gallery:
        one file to share (see :func:`~camwidgets.dataset.report.write_report`)."""

        return write_report(self.results, path, self.selection(), column=self.sort.value, limit=limit)

    # -- one row ----------------------------------------------------------------------------------
    def show_row(self, row_id: int) -> None:
        """Show row ``row_id`` large (stored photo and map) with its values."""
        if not 0 <= row_id < len(self.table):
            raise ValueError(f"row must be from 0 to {len(self.table) - 1}; got {row_id}")
        row = self.table.iloc[row_id]
        photo, levels = np.asarray(self.results.photos[row_id]), np.asarray(self.results.maps[row_id])
        self.overlay.show(photo, levels, (0.0, 1.0), self._row_status(row_id))
        self.details.value = text_html(self._row_text(row))
        self.detail.visible, self.hint.visible = True, False
        self.selected_row = row_id

    def _row_status(self, row_id: int) -> str:
        row = self.table.iloc[row_id]
        name = self.results.class_name(int(row["predicted"]))
        return f"#{row_id} {row['path']} · predicted {name} ({row['confidence']:.3f})"

    def to_html(self, path: str | Path) -> Path:
        """Save the page of rows shown now, with its histogram and confusion matrix, as one
        self-contained HTML file that runs the notebook's own front end: a thumbnail click shows that
        row large, colormap, opacity and mode work; sorting, filters, paging and opening a row in the
        explorer need the kernel (shown disabled, a note says so). Returns the path."""
        saved, buffers = saved_state(self.root, "cw-dataset-explorer", working=[self.overlay, self.gallery])
        picks = {}
        for key in self.gallery.item_keys:
            row_id = int(key)
            answer = pick_answer(
                buffers, self.overlay, self.gallery, key, np.asarray(self.results.photos[row_id]),
                np.asarray(self.results.maps[row_id]), (0.0, 1.0), self._row_status(row_id),
            )  # fmt: skip
            answer[self.details.part_id + SEPARATOR + "value"] = text_html(self._row_text(self.table.iloc[row_id]))
            answer[self.detail.part_id + SEPARATOR + "visible"] = True
            answer[self.hint.part_id + SEPARATOR + "visible"] = False
            picks[key] = answer
        manifest = self.results.manifest
        title = f"{manifest.get('method', 'CAM')} over {len(self.table)} rows"
        intro = f"<p>{self.summary.value}</p>"  # the pager's line, escaped when it was written
        page = app_page(title, saved, buffers, answers={self.gallery.part_id: {"pick": picks}}, intro=intro)
        return write_page(path, page)

    def _row_text(self, row: Any) -> str:
        """A row as people read it: classes by name, numbers to 3 significant digits, yes/no, no empty error."""
        parts = []
        for key, value in row.items():
            if key == "id" or (key == "error" and not value):
                continue
            if key in ("label", "predicted") and int(value) >= 0:
                value = f"{self.results.class_name(int(value))} ({int(value)})"
            elif isinstance(value, (bool, np.bool_)):
                value = "yes" if value else "no"
            elif isinstance(value, (float, np.floating)):
                value = f"{float(value):.3g}"
            parts.append(f"{key}: {value}")
        return " · ".join(parts)

    def _row_image(self, row_id: int) -> tuple[Any, Any]:
        """Row ``row_id``'s image as the dataset (or the folder) gives it, and the preprocessing the
        explorer should apply: the run's own, or none for an image that is already a float tensor."""
        if self.data is not None:
            image = item_parts(as_dataset(self.data)[row_id])["image"]
            if isinstance(image, (tuple, list, dict)):  # a model with several inputs: one item of them
                return [image], None
            if isinstance(image, torch.Tensor) and image.is_floating_point():
                return image[None], None
            return image, self.preprocess
        root = self.results.manifest.get("root")
        path = Path(root) / self.table.iloc[row_id]["path"] if root else None
        if path is None or not path.is_file():
            raise ValueError(
                "this row's image is not at hand: pass DatasetExplorer(..., data=the dataset given to explain_dataset)"
            )
        return str(path), self.preprocess

    def open_in_explorer(self, row_id: int | None = None) -> Any:
        """A CAMExplorer's view (:class:`~camwidgets.explorer.view.ExplorerView`: the same parts and
        methods) on row ``row_id`` (default: the one shown), shown below in this widget."""

        if self.model is None:
            raise ValueError("pass DatasetExplorer(results, model) to explore rows with other layers and methods")
        row_id = getattr(self, "selected_row", None) if row_id is None else row_id
        if row_id is None:
            raise ValueError("click a thumbnail first (or pass the row)")
        image, preprocess = self._row_image(row_id)
        manifest = self.results.manifest
        labels = self.classes if self.classes and len(self.classes) == manifest.get("outputs") else None
        # no widget model of its own: its parts join this widget (a host may not allow a new
        # widget from a click, as marimo does not)
        explorer = ExplorerView(
            self.model, image, labels=labels, preprocess=preprocess, target_layers=manifest["layers"],
            input_kind=manifest.get("input_kind", "image"), explain_input=manifest.get("explain_input"),
        )  # fmt: skip
        explorer.set(method=_registry_name(manifest["method"]))
        self.explorer_area.children = [explorer.root]
        self.remount()
        self.explorer = explorer
        return explorer


def _registry_name(class_name: str) -> str:

    return next(name for name, spec in METHODS.items() if spec.class_name == class_name)
