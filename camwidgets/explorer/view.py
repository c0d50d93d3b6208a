"""CAMExplorer: the composed notebook widget (layer tree + sweep, controls, overlay, gallery, tabs).

Every control change becomes a candidate view state that the session validates and computes; only a
successful computation is shown and becomes current. On an error the message appears in the
overlay, the controls return to the current state and the previous map stays. Slow methods run in a
background thread with a progress bar and a Cancel button, the shown image first; choosing another
image lets them go on, any other change replaces them. The method menu gives each method's price for
the chosen layers (passes over the batch and seconds from the measured forward time).
"""

from __future__ import annotations

import base64
import difflib
import inspect
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..core.classes import resolve_class
from ..core.pictures import captioned, square, to_png
from ..engine import get_method
from ..render.page import write_page
from ..widgets.controls import Controls, class_choice, class_search_options, method_options
from ..widgets.layer_tree import LayerTree
from ..widgets.messages import logger
from ..widgets.overlay import OverlayView
from ..widgets.page_text import text_html
from ..widgets.parts import Column, PartsWidget, Row
from ..widgets.spacetime import SpaceTimeView
from ..widgets.thumbnails import ThumbnailGrid
from .export import explorer_page, export_session, shown_picture
from .runs import BackgroundRuns
from .session import ExplorerSession
from .state import Result, ViewState
from .strips import Strips
from .tabs import build_tabs
from .worker import JobSlot

__all__ = ["CAMExplorer", "ExplorerView"]

GALLERY_SIZE = 72


#: Advice the engine gives in code, and what it means in the explorer.
WIDGET_ADVICE = (
    (
        re.compile(r"Pass several layers, for example \[[^\]]*\]\."),
        "Ctrl-click (Cmd-click on a Mac) a second layer in the tree.",
    ),
    (re.compile(r"pass target_layers explicitly"), "pick a layer in the tree"),
    (re.compile(r"Pass target_layers to choose another\."), "Click another layer in the tree to choose it."),
)


def widget_advice(message: str) -> str:
    """An engine message with its code-level advice rephrased for the explorer."""
    for pattern, replacement in WIDGET_ADVICE:
        message = pattern.sub(replacement, message)
    return message


def _session_options(options: dict[str, Any]) -> dict[str, Any]:
    """The explorer's keyword options, which are its session's: an unknown one is a TypeError naming them."""
    known = [name for name in inspect.signature(ExplorerSession).parameters if name not in ("model", "images")]
    unknown = [name for name in options if name not in known]
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise TypeError(
            f"CAMExplorer() got an unexpected keyword argument {unknown[0]!r}.{hint} It takes {', '.join(known)}"
        )
    return options


class ExplorerView(BackgroundRuns):
    """What :class:`CAMExplorer` shows and does, without a widget model of its own: its parts can be
    shown inside another widget (a row of the DatasetExplorer opened in place). ``root`` is the
    part at the top."""

    def __init__(self, model: Any, images: Any, **options: Any) -> None:
        self.session = ExplorerSession(model, images, **_session_options(options))
        self._lock = threading.RLock()
        self._thread_state = threading.local()  # per thread: is this thread syncing controls quietly?
        self.jobs = JobSlot(self._lock)  # one job at a time on the model, owned under the lock
        self._pending: ViewState | None = None  # its view, with the image chosen last (None when none runs)
        self._partial: dict[int, np.ndarray] = {}  # its maps finished so far, by image (the shown one first)
        self.controls = Controls(self.session.labels, self.session.methods)
        self.controls.find_class.visible = self.session.task.shows_class_search
        self.controls.phrase.visible = self.session.task.shows_prompt_box
        if self.session.task.threshold is not None:
            self.controls.threshold.value = self.session.task.threshold
            self.controls.threshold.visible = True
        self.tree = LayerTree(self.session.tree, list(self.session.state.layers), accept=self._accept_layers)
        self.overlay = (
            OverlayView(on_cancel=self.cancel, on_pick_box=self._pick_box, on_region=self._drag_region)
            if self.session.kind == "image"
            else SpaceTimeView(self.session.kind, on_cancel=self.cancel)
        )
        self.strips = Strips(self.session, self.jobs, self._quietly)
        self.sweep, self.label_maps = self.strips.sweep, self.strips.label_maps
        self.gallery = ThumbnailGrid(testid="cw-gallery", item_testid="cw-gallery-item", title="Images")
        self.panels = build_tabs(self.session, self)
        # two columns that stack when the notebook is narrower than about 1000 px (widgets.css)
        left = Column([self.tree, self.label_maps, self.sweep], css="cw-left")
        right = Column([self.controls.box, self.overlay, self.strips.other_inputs], css="cw-right")
        columns = Row([left, right], css="cw-columns")
        self._compose(Column([self.gallery, columns, self.panels.tabs], css="cw-explorer"))
        self._fill_gallery()
        self._connect()
        self.run(self.session.state)

    def _compose(self, root: Column) -> None:
        self._root = root

    @property
    def root(self) -> Column:
        """The part at the top of the explorer's parts."""
        return self._root

    # -- public API -------------------------------------------------------------------------------
    @property
    def state(self) -> ViewState:
        """The view shown now."""
        return self.session.state

    @property
    def result(self) -> Result | None:
        """The maps shown now, for every image (``result.maps`` (B, H, W) float32)."""
        return self.session.result

    def set(self, **changes: Any) -> None:
        """Change the view: ``image``, ``layers``, ``method``, ``target`` (class index or None),
        ``aug_smooth``, ``eigen_smooth``, ``normalise``. Invalid values raise (nothing changes);
        computation errors are shown in the widget. Slow methods return at once (see :meth:`wait`)."""
        self.run(self.session.validate(self._pending, **changes))

    def request_view(self, **changes: Any) -> None:
        """A tab's request to show a view (a compare cell clicked): as a control change, errors shown."""
        self._request(**changes)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for running background work (a slow method, a panel); True when none is running any more."""
        return self.jobs.wait(timeout)

    def cancel(self) -> None:
        """Cancel all running background work; the previous map stays."""
        self.jobs.cancel()

    def export(self, path: str | Path) -> dict[str, Path]:
        """Save the current view as ``<path>.png`` (as shown: mode, colormap, opacity) and its state
        as ``<path>.npz`` (image, map, grey levels) plus ``<path>.json``; returns the paths."""
        return export_session(path, self.session, self._view_settings())

    def to_html(self, path: str | Path) -> Path:
        """Save the explorer as one self-contained HTML file (no kernel, no network) that runs the
        notebook's own front end: opened as shown now, every image's current map a gallery click away,
        colormap, opacity, mode and zoom working as here, the controls that need the kernel shown
        disabled with a note; returns the path."""

        return write_page(path, explorer_page(self))

    def view_picture(self) -> np.ndarray:
        """The picture shown now, (H, W, 3) uint8: the overlay's mode, colormap and opacity applied
        to the photo and map (what the browser draws)."""
        return shown_picture(self.session, self._view_settings())

    @property
    def theme(self) -> str:
        """The notebook's theme as the browser reports it, 'light' or 'dark'."""
        return self.overlay.theme

    def _view_settings(self) -> dict[str, Any]:
        settings = {"mode": self.overlay.mode, "colormap": self.overlay.colormap, "opacity": self.overlay.opacity}
        if isinstance(self.overlay, SpaceTimeView):  # the slice or frame shown, the intensity window
            settings.update(position=list(self.overlay.position), window=list(self.overlay.window))
        return settings

    def status_text(self, state: ViewState) -> str:
        """'Method · layer(s) · target', as the overlay's status line shows it."""
        return self.session.status_text(state)

    # -- computing --------------------------------------------------------------------------------
    def run(self, state: ViewState) -> None:
        """Compute ``state`` and show it. Slow methods run in a worker thread: the shown image first,
        then the rest of the batch; switching images meanwhile does not stop them (a finished image's
        map shows at once, another one's old map dimmed until its turn)."""
        if self.session.follow_model():  # captions, target menu and class search follow the model's new outputs
            self._fill_gallery()
            self.controls.find_class.options = class_search_options(self.session.labels)
            if state.target is not None and state.target >= len(self.session.labels):
                state = replace(state, target=None)
        if self._pending is not None and self.session.at_image(self._pending, state.image) == state:
            self._follow_image(state.image)
            return
        self._stop_job()
        current = self.session.result
        if (
            current is not None
            and self.session.at_image(current.state, state.image) == state
            and state.image not in current.missing
        ):
            self._show(replace(current, state=state))
            return
        if self.session.needs_worker(state):
            self._start_job(state)
            return
        try:
            result = self.session.compute(state)
        except Exception as error:  # shown in the widget; the kernel and the previous map stay
            self._fail(error, state)
            return
        self._show(result)

    def _display(
        self,
        photo: np.ndarray,
        levels: np.ndarray,
        value_range: tuple[float, float],
        status: str,
        stale: bool,
        state: ViewState,
    ) -> None:
        with self.overlay.hold_sync():
            self.overlay.show(photo, levels, value_range, status)
            self.overlay.annotations = self.session.task.annotations(state)
            self.overlay.stale = stale
            if getattr(self.session.images, "spacing", None):  # a volume's voxel size
                self.overlay.spacing = list(self.session.images.spacing[state.image])

    def _show(self, result: Result) -> None:
        """Show ``result`` and make it current."""
        with self._lock:
            self.session.commit(result)
            state = result.state
            with self.overlay.hold_sync():
                self._display(
                    self.session.shown_input(state.image),
                    result.levels[state.image],
                    result.value_range,
                    self.status_text(state),
                    stale=False,
                    state=state,
                )
                if self._pending is None:
                    self.overlay.busy, self.overlay.progress_label = False, ""
            self.controls.find_says("")  # an answer about an earlier search is stale under a new view
            self.gallery.captions = [
                self.session.caption(i, state) for i in range(len(self.session.images))
            ]  # an embedding's cosines follow the concept
            self._sync_controls()
            self.strips.refresh_soon()

    def _fail(self, error: BaseException, state: ViewState | None) -> None:
        """Show ``error`` (of computing ``state``, or of a rejected change when None); keep the view."""
        logger.info("could not show %s: %s", state, error)
        with self._lock:
            message = widget_advice(str(error) or type(error).__name__)
            if state is not None:
                message = f"{get_method(state.method).class_name} at {', '.join(state.layers)} failed: {message}"
            with self.overlay.hold_sync():
                self.overlay.busy = False
                self.overlay.error = message
            self._sync_controls()

    # -- keeping the pieces in step -----------------------------------------------------------------
    def _refresh_sweep(self) -> None:
        """The layer sweep and label maps of the current view, now."""
        self.strips.refresh()

    def _fill_gallery(self) -> None:
        images = self.session.images
        captions = [self.session.caption(i) for i in range(len(images))]
        self.gallery.set_pictures(
            [str(i) for i in range(len(images))], square(images.photos, GALLERY_SIZE), captions=captions
        )

    @property
    def _quiet(self) -> bool:
        return getattr(self._thread_state, "quiet", False)

    def _quietly(self, change: Callable[[], None]) -> None:
        """Set controls without treating it as a user's change (only in this thread: a worker
        thread syncing controls does not swallow a change the user makes meanwhile)."""
        before = self._quiet
        self._thread_state.quiet = True
        try:
            change()
        finally:
            self._thread_state.quiet = before

    def _sync_controls(self) -> None:
        """Controls show the current state, or the slow method's while it runs (after a change, an
        error or a cancel); the method menu prices each method at the state's layers."""
        state, controls = self._pending or self.session.state, self.controls
        methods = self.session.methods
        options = method_options({name: self.session.estimate(name, state.layers) for name in methods}, methods)

        def apply() -> None:
            if tuple(controls.method.options) != tuple(options):
                controls.method.options = options
            controls.method.value = state.method
            controls.target.options = self.session.task.target_options(state)
            controls.target.value = self.session.task.option_value(state)
            controls.normalise.value = state.normalise
            controls.aug_smooth.value, controls.eigen_smooth.value = state.aug_smooth, state.eigen_smooth
            if self.session.task.threshold is not None:
                controls.threshold.value = self.session.task.threshold
            self.tree.selected = list(state.layers)
            self.gallery.selected = str(state.image)
            # the class search shows the chosen class (empty for each image's top class)
            controls.find_class.value = (
                ""
                if state.target is None or not self.session.labels
                else f"{self.session.labels[state.target]} ({state.target})"
            )

        self._quietly(apply)

    def _request(self, answer: bool = False, **changes: Any) -> None:
        """A change from a control or the browser: validated, then shown; a refusal is shown in the
        overlay, and with ``answer`` raised too (so a browser message is answered with the error)."""
        if self._quiet and not answer:
            return
        try:
            state = self.session.validate(self._pending, **changes)
        except (ValueError, TypeError) as error:
            self._fail(error, None)
            if answer:
                raise
            return
        self.run(state)

    def _pick_box(self, index: int) -> None:
        """A box clicked in the overlay: explain that detection (a refusal is shown, and answered)."""
        self._request(answer=True, box=index, target=None)

    def _drag_region(self, box: tuple | None) -> None:
        """A rectangle dragged on the image (None: cleared): it restricts the segmented region, or
        becomes the concept (embeddings) with the image shown as the concept image."""
        self._request(answer=True, **self.session.task.region_changes(box, self._pending or self.session.state))

    def _accept_layers(self, paths: list[str]) -> None:
        """The tree's check of a selection from the browser: the session's rules (nested layers, ...);
        a refusal is shown in the overlay too, and answered with the error."""
        try:
            self.session.validate(layers=tuple(paths))
        except (ValueError, TypeError) as error:
            self._fail(error, None)
            raise

    def _connect(self) -> None:
        controls = self.controls
        controls.target.observe(
            lambda change: self._request(**self.session.task.option_changes(change["new"])), names="value"
        )
        self.label_maps.observe(
            lambda change: change["new"] and self._request(target=int(change["new"])), names="selected"
        )
        watch = [
            (controls.method, "method", lambda v: v),
            (controls.normalise, "normalise", lambda v: v),
            (controls.aug_smooth, "aug_smooth", bool),
            (controls.eigen_smooth, "eigen_smooth", bool),
        ]
        for widget, field, convert in watch:
            widget.observe(lambda change, f=field, c=convert: self._request(**{f: c(change["new"])}), names="value")
        controls.find_class.observe(self._on_find_class, names="value")
        controls.phrase.observe(lambda change: self._on_phrase(change["new"]), names="value")
        controls.threshold.observe(lambda change: self._on_threshold(change["new"]), names="value")
        if "metrics" in self.panels:
            self.overlay.observe(lambda change: self.panels.metrics.redraw(), names="theme")
        self.tree.observe(lambda change: self._request(layers=tuple(change["new"])), names="selected")
        self.sweep.observe(lambda change: change["new"] and self._request(layers=(change["new"],)), names="selected")
        self.gallery.observe(lambda change: change["new"] and self._request(image=int(change["new"])), names="selected")

    def set_score_threshold(self, threshold: float) -> None:
        """Show and explain only the detections scoring at least ``threshold`` (0..1), as the slider does."""
        self.controls.threshold.value = threshold  # the slider's handler does the rest

    def _on_threshold(self, threshold: float) -> None:
        """The detections above the new threshold: drawn, in the captions and the target menu, and explained."""
        if self._quiet or threshold == self.session.task.threshold:
            return
        self._stop_job()
        try:
            self.session.set_score_threshold(threshold)
        except ValueError as error:
            self._fail(error, None)
            return
        self._fill_gallery()
        self.run(self.session.state)

    def _on_find_class(self, change: dict) -> None:
        """A picked suggestion, or a typed index or (part of a) class name, fuzzy: becomes the target;
        an unknown or ambiguous name is answered beside the box."""
        text = (change["new"] or "").strip()
        if self._quiet or not text:
            return
        index = class_choice(text, self.session.labels)
        try:
            index = resolve_class(text, self.session.labels) if index is None else index
        except ValueError as error:
            self.controls.find_says(text_html(str(error).replace("unknown class", "no class named", 1)))
            return
        self.controls.find_says("")
        self._request(target=index)

    def explain_phrase(self, phrase: str) -> None:
        """Image–text models: explain ``phrase`` (added to the phrases tried, then chosen), as typing it does."""
        index = self.session.add_phrase(phrase)
        self._request(target=index)

    def _on_phrase(self, text: str) -> None:
        """A typed phrase: explained; one the model cannot read is answered beside the box (escaped)."""
        text = (text or "").strip()
        if self._quiet or not text:
            return
        try:
            self.explain_phrase(text)
        except ValueError as error:
            self.controls.find_says(text_html(str(error)))
            return
        self.controls.find_says("")

    def __repr__(self) -> str:
        return f"CAMExplorer({self.status_text(self.session.state)}, {len(self.session.images)} images)"


class CAMExplorer(ExplorerView, PartsWidget):
    """Explore class activation maps of ``model`` on ``images`` in a notebook.

    ``images``: file paths, bundled photo names, PIL images, uint8 arrays, or a ready (B, 3, H, W)
    tensor. ``labels``: class names or torchvision weights (default: ImageNet names for torchvision
    classifiers, else indices). ``preprocess``: torchvision weights or transforms, or any
    ``PIL image -> tensor`` callable (default: resize 256, crop 224, ImageNet mean/std).
    ``device``: move the model there first. ``output_selector`` (an index, key or callable) picks the
    (B, classes) scores from a model that returns a tuple or dict. Drive it from Python with :meth:`set`::

        explorer = CAMExplorer(model, ["chelsea", "coffee"])
        explorer.set(method="layercam", layers=["features.17"], target=282)
    """

    def _compose(self, root: Column) -> None:
        PartsWidget.__init__(self, root, testid="cw-explorer")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view, plus a PNG of the view with its status line: what GitHub, nbviewer and
        ``nbconvert --to html`` show of the notebook's saved output (they have no widget manager)."""
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if data is not None and self.session.result is not None:
            picture = captioned(self.view_picture(), self.status_text(self.session.result.state))
            data["image/png"] = base64.b64encode(to_png(picture)).decode("ascii")
        return bundle


CAMExplorer.__init__.__signature__ = inspect.signature(ExplorerSession.__init__)  # type: ignore[attr-defined]
