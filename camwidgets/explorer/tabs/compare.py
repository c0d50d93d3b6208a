"""Compare: methods x images (current layers) or methods x layers (current image), for the current target."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.pictures import overlay_thumbnails
from ...core.samples import plane
from ...engine import METHODS
from ...widgets.fields import Button, SelectMultiple, ToggleButtons
from ...widgets.parts import Column, Row
from ...widgets.thumbnails import ThumbnailGrid
from ..state import gray_levels
from ..worker import BackgroundJob
from .base import BackgroundTab, TabHost, method_choices

__all__ = ["CompareTab", "COMPARE_SIZE"]


COMPARE_SIZE = 96
DEFAULT_COMPARE = ("gradcam", "gradcam++", "layercam", "eigencam")


class CompareTab(BackgroundTab):
    """Methods x images (current layers) or methods x layers (current image), for the current target."""

    key = "compare"
    title = "Compare"
    name = "Compare"

    def __init__(self, session: Any, host: TabHost) -> None:
        super().__init__(session, host)
        choices = [name for name in DEFAULT_COMPARE if name in session.methods] or session.methods[:2]
        # one naming of methods everywhere: the class names the main menu shows
        self.methods = SelectMultiple(
            description="Methods", options=method_choices(session.methods), value=choices, rows=6
        )
        self.by = ToggleButtons(description="Columns", options=[("images", "images"), ("layers", "layers")])
        self.button = Button(description="Compare")
        self.grid = ThumbnailGrid(
            testid="cw-compare",
            item_testid="cw-compare-item",
            title="Compare (click a cell to open it in the main view)",
        )
        self._cells: dict[str, dict[str, Any]] = {}  # grid key -> the view change that opens that cell
        self.grid.observe(self._open_cell, names="selected")
        self.button.on_click(lambda _: self.start())
        self.box = Column([Row([self.methods, Column([self.by, self.button])]), self.grid])

    def start(self) -> BackgroundJob:
        """Compute the grid in the background for the current view."""
        session = self.session
        state = session.state
        methods = list(dict.fromkeys(self.methods.value))  # the front end may send an index twice
        by = self.by.value
        layers = list(state.layers) if len(state.layers) > 1 or by == "images" else session.tree.stages[-4:]
        self.grid.message = "comparing…"

        def work(progress: Any) -> Any:
            return session.compare(state, methods, by=by, layers=layers, progress=progress)

        def show(outcome: tuple[list[str], np.ndarray]) -> None:
            columns, maps = outcome
            photos = session.images.photos if by == "images" else session.images.photos[[state.image] * len(columns)]
            cells = [
                overlay_thumbnails(photos, gray_levels(plane(row, session.kind), state.normalise)[0], COMPARE_SIZE)
                for row in maps
            ]
            names = [METHODS[m].class_name for m in methods]
            self._cells = {
                f"{m}|{position}": {"method": m, **({"image": position} if by == "images" else {"layers": (column,)})}
                for m in methods
                for position, column in enumerate(columns)
            }
            self.grid.set_pictures(
                list(self._cells),
                np.concatenate(cells),
                captions=[f"{n} · {c}" for n in names for c in columns],
                columns=len(columns),
                row_labels=names,
                column_labels=list(columns),
            )

        return self.run(work, show)

    def _open_cell(self, change: dict) -> None:
        """A clicked cell becomes the main view: its method, and its image or layer."""
        cell = self._cells.get(change["new"] or "")
        if cell is not None:
            self.host.request_view(**cell)

    def say(self, text: str, error: bool = False) -> None:
        self.grid.message = f"compare failed: {text}" if error else text
