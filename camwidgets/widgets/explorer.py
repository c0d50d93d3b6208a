"""CAMExplorer: the composed notebook widget (layer tree + sweep, controls, overlay, gallery, tabs).

Every control change becomes a candidate view state that the session validates and computes; only a
successful computation is shown and becomes current. On an error the message appears in the
overlay, the controls return to the current state and the previous map stays. Slow methods run in a
background thread with a progress bar and a Cancel button; any new change cancels a running one.
"""

from __future__ import annotations

import base64
import difflib
import inspect
import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import ipywidgets
import numpy as np

from ..engine.methods.registry import get_method
from ..engine.progress import Cancelled
from ..classes import resolve_class
from .controls import TOP_CLASS, Controls, class_choice, target_options
from .tabs.base import text_html
from .export import export_session, shown_picture
from .layer_tree import LayerTree
from .messages import logger
from .overlay import OverlayView
from .tabs import build_tabs
from .pictures import captioned, overlay_thumbnails, square, to_png
from .session import ExplorerSession, Result, ViewState
from .thumbnails import ThumbnailGrid
from .worker import BackgroundJob, JobSlot

__all__ = ["CAMExplorer"]

GALLERY_SIZE = 72


#: Advice the engine gives in code, and what it means in the explorer.
WIDGET_ADVICE = (
    (re.compile(r"Pass several layers, for example \[[^\]]*\]\."), "Ctrl-click (Cmd-click on a Mac) a second layer in the tree."),
    (re.compile(r"pass target_layers explicitly"), "pick a layer in the tree"),
    (re.compile(r"Pass target_layers to choose another\."), "Click another layer in the tree to choose it."),
)


def widget_advice(message: str) -> str:
    """An engine message with its code-level advice rephrased for the explorer."""
    for pattern, replacement in WIDGET_ADVICE:
        message = pattern.sub(replacement, message)
    return message


def progress_text(name: str, done: int, total: int, elapsed: float, shown: Result | None) -> str:
    """What is shown and what is coming: 'GradCAM shown · ScoreCAM 29/304 · about 90 s left' (the
    time left from the pace so far, once a step is done)."""
    parts = [f"{get_method(shown.state.method).class_name} shown"] if shown is not None else []
    parts.append(f"{name} {done}/{total}")
    if 0 < done < total:
        left = elapsed / done * (total - done)
        parts.append(f"about {left:.0f} s left" if left < 120 else f"about {left / 60:.0f} min left")
    return " · ".join(parts)


def _session_options(options: dict[str, Any]) -> dict[str, Any]:
    """The explorer's keyword options, which are its session's: an unknown one is a TypeError naming them."""
    known = [name for name in inspect.signature(ExplorerSession).parameters if name not in ("model", "images")]
    unknown = [name for name in options if name not in known]
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise TypeError(f"CAMExplorer() got an unexpected keyword argument {unknown[0]!r}.{hint} It takes {', '.join(known)}")
    return options


class CAMExplorer(ipywidgets.VBox):
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

    def __init__(self, model: Any, images: Any, **options: Any) -> None:
        self.session = ExplorerSession(model, images, **_session_options(options))
        self._lock = threading.RLock()
        self._thread_state = threading.local()  # per thread: is this thread syncing controls quietly?
        self.jobs = JobSlot(self._lock)  # one job at a time on the model, owned under the lock
        self._sweep_key: tuple | None = None
        self._slow_job: BackgroundJob | None = None  # the slow method running, if any
        self._slow_image = 0  # the image its result is shown for (the one chosen last)
        self.controls = Controls(self.session.labels)
        self.tree = LayerTree(self.session.tree, list(self.session.state.layers), accept=self._accept_layers)
        self.overlay = OverlayView(on_cancel=self.cancel)
        self.sweep = ThumbnailGrid(testid="cw-sweep", item_testid="cw-sweep-item", title="Layer sweep: GradCAM at every stage (click to select)")
        self.gallery = ThumbnailGrid(testid="cw-gallery", item_testid="cw-gallery-item", title="Images")
        self.panels = build_tabs(self.session, self)
        # two columns that stack when the notebook is narrower than about 1000 px (widgets.css)
        left = ipywidgets.VBox([self.tree, self.sweep])
        right = ipywidgets.VBox([self.controls.box, self.overlay])
        left.add_class("cw-left")
        right.add_class("cw-right")
        columns = ipywidgets.HBox([left, right])
        columns.add_class("cw-columns")
        super().__init__([self.gallery, columns, self.panels.tabs])
        self.add_class("cw-explorer")
        self._fill_gallery()
        self._connect()
        self.run(self.session.state)

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
        self.run(self.session.validate(**changes))

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

    def view_picture(self) -> np.ndarray:
        """The picture shown now, (H, W, 3) uint8: the overlay's mode, colormap and opacity applied
        to the photo and map (what the browser draws)."""
        return shown_picture(self.session, self._view_settings())

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        """The widget view, plus a PNG of the view with its status line: what GitHub, nbviewer and
        ``nbconvert --to html`` show of the notebook's saved output (they have no widget manager)."""
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None and self.session.result is not None:
            picture = captioned(self.view_picture(), self.status_text(self.session.result.state))
            data["image/png"] = base64.b64encode(to_png(picture)).decode("ascii")
        return data

    def _view_settings(self) -> dict[str, Any]:
        return {"mode": self.overlay.mode, "colormap": self.overlay.colormap, "opacity": self.overlay.opacity}

    def status_text(self, state: ViewState) -> str:
        """'Method · layer(s) · target', as the overlay's status line shows it."""
        return self.session.status_text(state)

    # -- computing --------------------------------------------------------------------------------
    def run(self, state: ViewState) -> None:
        """Compute ``state`` and show it (in a worker thread for slow methods). Switching images
        while a slow method runs does not stop it: the shown map follows the image now, and the slow
        method's result arrives for the image chosen last."""
        current = self.session.result
        only_image = current is not None and replace(current.state, image=state.image) == state
        if only_image and self._slow_job is not None and self._slow_job.running and not self._slow_job.cancelled:
            self._slow_image = state.image
            self._show(replace(current, state=state), still_busy=True)
            return
        self._stop_job()
        if only_image:
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

    def background(
        self,
        name: str,
        work: Callable[[Callable[[int, int, str], bool]], Any],
        on_done: Callable[[Any], None],
        on_failed: Callable[[BaseException], None],
        on_progress: Callable[[int, int, str], None] | None = None,
        on_superseded: Callable[[], None] | None = None,
    ) -> BackgroundJob:
        """Run ``work(progress)`` in the explorer's one job slot (any running job is superseded),
        with the overlay's progress bar and Cancel button; ``on_done``/``on_failed`` (Cancelled
        included) run only if no newer work replaced it."""
        with self.overlay.hold_sync():
            self.overlay.busy, self.overlay.progress = True, 0.0
            self.overlay.progress_label = f"computing {name}…"
            self.overlay.error = ""

        started = time.monotonic()
        shown = self.session.result

        def progress(done: int, total: int, description: str) -> None:
            with self.overlay.hold_sync():
                self.overlay.progress = min(1.0, done / total) if total else 0.0
                self.overlay.progress_label = progress_text(name, done, total, time.monotonic() - started, shown)
            if on_progress is not None:
                on_progress(done, total, description)

        def done(result: Any) -> None:
            self.overlay.busy, self.overlay.progress_label = False, ""
            on_done(result)

        def failed(error: BaseException) -> None:
            self.overlay.busy = False
            if isinstance(error, Cancelled):
                self.overlay.progress_label = f"{name} cancelled; the previous map is shown"
            on_failed(error)

        return self.jobs.start(work, progress, done, failed, on_superseded)

    def _start_job(self, state: ViewState) -> None:
        def failed(error: BaseException) -> None:
            if isinstance(error, Cancelled):
                self._sync_controls()
            else:
                self._fail(error, state)

        def done(result: Result) -> None:
            self._show(replace(result, state=replace(result.state, image=self._slow_image)))

        self._slow_image = state.image
        self._slow_job = self.background(get_method(state.method).class_name, lambda callback: self.session.compute(state, progress=callback), done, failed)

    def _stop_job(self) -> None:
        """Stop background work on the model (a slow method, a panel's job) before the next change."""
        self.jobs.supersede()
        self.jobs.wait()

    def _show(self, result: Result, still_busy: bool = False) -> None:
        """Show ``result`` and make it current (``still_busy``: a slow method goes on computing meanwhile)."""
        with self._lock:
            self.session.commit(result)
            state = result.state
            photo = self.session.images.photos[state.image]
            with self.overlay.hold_sync():
                self.overlay.show(photo, result.levels[state.image], result.value_range, self.status_text(state))
                if not still_busy:
                    self.overlay.busy, self.overlay.progress_label = False, ""
            self._sync_controls()
            self._refresh_sweep()

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
        state = self.session.state
        key = (state.image, state.target)
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

    def _fill_gallery(self) -> None:
        images = self.session.images
        captions = [f"{name}: {self.session.top_classes(i, 1)[0][1]}" for i, name in enumerate(images.names)]
        self.gallery.set_pictures([str(i) for i in range(len(images))], square(images.photos, GALLERY_SIZE), captions=captions)

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
        """Controls show the current state (after a change, an error or a cancel)."""
        state, controls = self.session.state, self.controls

        def apply() -> None:
            controls.method.value = state.method
            controls.target.options = target_options(self.session.top_classes(state.image), state.target, self.session.labels)
            controls.target.value = TOP_CLASS if state.target is None else state.target
            controls.normalise.value = state.normalise
            controls.aug_smooth.value, controls.eigen_smooth.value = state.aug_smooth, state.eigen_smooth
            self.tree.selected = list(state.layers)
            self.gallery.selected = str(state.image)
            # the class search shows the chosen class (empty for each image's top class)
            controls.find_class.value = "" if state.target is None else f"{self.session.labels[state.target]} ({state.target})"

        self._quietly(apply)

    def _request(self, **changes: Any) -> None:
        if self._quiet:
            return
        try:
            state = self.session.validate(**changes)
        except (ValueError, TypeError) as error:
            self._fail(error, None)
            return
        self.run(state)

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
        watch = [
            (controls.method, "method", lambda v: v),
            (controls.target, "target", lambda v: None if v == TOP_CLASS else v),
            (controls.normalise, "normalise", lambda v: v),
            (controls.aug_smooth, "aug_smooth", bool),
            (controls.eigen_smooth, "eigen_smooth", bool),
        ]
        for widget, field, convert in watch:
            widget.observe(lambda change, f=field, c=convert: self._request(**{f: c(change["new"])}), names="value")
        controls.find_class.observe(self._on_find_class, names="value")
        self.tree.observe(lambda change: self._request(layers=tuple(change["new"])), names="selected")
        self.sweep.observe(lambda change: change["new"] and self._request(layers=(change["new"],)), names="selected")
        self.gallery.observe(lambda change: change["new"] and self._request(image=int(change["new"])), names="selected")

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
            self.controls.find_note.value = text_html(str(error).replace("unknown class", "no class named", 1))
            return
        self.controls.find_note.value = ""
        self._request(target=index)

    def __repr__(self) -> str:
        return f"CAMExplorer({self.status_text(self.session.state)}, {len(self.session.images)} images)"


CAMExplorer.__init__.__signature__ = inspect.signature(ExplorerSession.__init__)  # type: ignore[attr-defined]
