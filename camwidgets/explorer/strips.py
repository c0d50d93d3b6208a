"""The thumbnail rows beside the explorer's main view: the layer sweep (GradCAM at every stage the
target depends on, click one to select it) and, for a task with per-label maps, one map per
present label (click one to choose it); for a model with several inputs, the item's other inputs.
The maps are extra: a failure is said in the row, and the view
stays. They refresh after the kernel has sent the new map, and wait while background work holds
the model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.pictures import overlay_thumbnails, square
from ..widgets.thumbnails import ThumbnailGrid
from .state import ViewState
from .worker import JobSlot

__all__ = ["Strips", "kernel_loop"]

#: The side of the other inputs' pictures, in pixels.
OTHER_INPUT_SIZE = 128


def kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop of the Jupyter kernel this code runs in (handling its messages), or None
    outside a kernel (a script, a test; another library's loop does not count)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return None
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Strips:
    """The sweep and label-map rows of one explorer: ``sweep`` and ``label_maps`` (ThumbnailGrids),
    computed from ``session``; ``jobs``: the explorer's job slot (a refresh waits for it);
    ``quietly(change)``: sets a selection without it counting as the user's."""

    def __init__(self, session: Any, jobs: JobSlot, quietly: Callable[[Callable[[], None]], None]) -> None:
        self.session, self.jobs, self._quietly = session, jobs, quietly
        self.sweep = ThumbnailGrid(
            testid="cw-sweep",
            item_testid="cw-sweep-item",
            title="Layer sweep: GradCAM at every stage (click to select)",
            wrap=True,
        )
        self.label_maps = ThumbnailGrid(
            testid="cw-label-maps",
            item_testid="cw-label-map",
            title=session.task.label_maps_title,
            wrap=True,
        )
        self.label_maps.visible = bool(session.task.per_label_maps)
        # a model with several inputs: the item's other inputs, beside the explained one and its map
        self.other_inputs = ThumbnailGrid(
            testid="cw-other-inputs", item_testid="cw-other-input", title="The item's other inputs", wrap=True
        )
        self.other_inputs.visible = session.several is not None
        self._other_image: int | None = None
        self._sweep_key: tuple | None = None
        self._labels_key: tuple | None = None

    def refresh_soon(self) -> None:
        """Refresh the sweep after the kernel has sent the new map: in a Jupyter kernel once the
        current message is handled, so a new image or target shows without
        waiting for the sweep's forward and backward; elsewhere at once. While background work
        holds the model it waits its turn (the job's own end refreshes it too)."""
        if self._sweep_key == self._target_key(self.session.state):
            self.refresh()  # nothing to compute: only the selection moves
            return
        loop = kernel_loop()
        if loop is None:
            self.refresh()
            return

        def when_free() -> None:
            if self.jobs.running:
                loop.call_later(0.5, when_free)
            else:
                self.refresh()

        loop.call_soon(when_free)

    def refresh(self) -> None:
        """The sweep (and the label maps) of the session's current view; the selection follows its layers."""
        state = self.session.state
        key = self._target_key(state)
        self._label_maps(state)
        self._other_inputs(state)
        if key != self._sweep_key and self.session.tree.stages:
            try:
                paths, levels = self.session.sweep(state)
            except Exception as error:  # the sweep is extra; its failure does not stop the view
                self.sweep.message = f"layer sweep unavailable: {error}"
            else:
                photo = self.session.images.photos[state.image : state.image + 1].repeat(len(paths), axis=0)
                self.sweep.set_pictures(paths, overlay_thumbnails(photo, levels, levels.shape[-1]), captions=paths)
            self._sweep_key = key
        single = state.layers[0] if len(state.layers) == 1 and state.layers[0] in self.sweep.item_keys else ""
        self._quietly(lambda: setattr(self.sweep, "selected", single))

    @staticmethod
    def _target_key(state: ViewState) -> tuple:
        """What the sweep's maps depend on besides the layers: the image and what is explained."""
        return (state.image, state.target, state.box, state.region, state.concept)

    def _other_inputs(self, state: ViewState) -> None:
        """The other inputs of the item shown, as pictures named by their key (index or name)."""
        if self.session.several is None or self._other_image == state.image:
            return
        shown = self.session.other_inputs(state.image)
        if shown:
            pictures = np.concatenate([square(picture[None], OTHER_INPUT_SIZE) for _, picture in shown])
            self.other_inputs.set_pictures(
                [name for name, _ in shown], pictures, captions=[f"input {name}" for name, _ in shown]
            )
        self._other_image = state.image

    def _label_maps(self, state: ViewState) -> None:
        """Multi-label models: one GradCAM map per present label of the image shown (from one forward
        of copies of the image, one target each); clicking one chooses that label."""
        if not self.session.task.per_label_maps:
            return
        key = (state.image, state.layers, tuple(self.session.task.labels))  # phrases typed add maps
        if key != self._labels_key:
            try:
                present, levels = self.session.label_maps(state)
            except Exception as error:  # extra, like the sweep
                self.label_maps.message = f"label maps unavailable: {error}"
            else:
                photo = self.session.images.photos[state.image : state.image + 1].repeat(len(present), axis=0)
                captions = [f"{name} {p:.2f}" for _, name, p in present]
                self.label_maps.set_pictures(
                    [str(c) for c, _, _ in present],
                    overlay_thumbnails(photo, levels, levels.shape[-1]),
                    captions=captions,
                )
            self._labels_key = key
        chosen = (
            str(state.target) if state.target is not None and str(state.target) in self.label_maps.item_keys else ""
        )
        self._quietly(lambda: setattr(self.label_maps, "selected", chosen))
