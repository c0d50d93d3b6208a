"""Slow methods in the background: one job slot on the model, a progress heading (what runs, what
is shown meanwhile, the time left from the pace so far), the shown image first, partial results
shown as they finish, and Cancel. :class:`BackgroundRuns` is the explorer's part that does this."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ..engine import Cancelled, get_method
from ..widgets.controls import duration_text
from .state import Result, ViewState, gray_levels
from .worker import BackgroundJob, JobSlot

__all__ = ["BackgroundRuns", "ProgressHeading", "progress_text"]


def progress_text(name: str, done: int, total: int, elapsed: float, shown: str | None) -> str:
    """What is shown and what is coming: 'GradCAM shown · ScoreCAM 29/304 · about 90 s left' (the
    time left from the pace so far, once a step is done)."""
    parts = [f"{shown} shown"] if shown else []
    parts.append(f"{name} {done}/{total}")
    if 0 < done < total:
        parts.append(f"about {duration_text(elapsed / done * (total - done))} left")
    return " · ".join(parts)


class ProgressHeading:
    """A background job's progress line: what runs (``name``), what is shown meanwhile (``shown``),
    and the pace since the phase began; :meth:`phase` starts the next part of the job."""

    def __init__(self, name: str, shown: str | None) -> None:
        self.phase(name, shown)

    def phase(self, name: str, shown: str | None) -> None:
        self.name, self.shown, self.started = name, shown, time.monotonic()

    def text(self, done: int, total: int) -> str:
        return progress_text(self.name, done, total, time.monotonic() - self.started, self.shown)


class BackgroundRuns:
    """The explorer's background work. The explorer provides ``session``, ``overlay``, ``jobs`` (a
    :class:`JobSlot`), ``_lock``, ``_pending`` (the slow method's view while it runs, at the image
    chosen last), ``_partial`` (its finished maps by image) and the display methods ``_display``,
    ``_show``, ``_fail``, ``_sync_controls`` and ``status_text``."""

    session: Any
    overlay: Any
    jobs: JobSlot
    _lock: threading.RLock
    _pending: ViewState | None
    _partial: dict[int, np.ndarray]

    def background(
        self,
        name: str,
        work: Callable[[Callable[[int, int, str], bool]], Any],
        on_done: Callable[[Any], None],
        on_failed: Callable[[BaseException], bool | None],
        on_progress: Callable[[int, int, str], None] | None = None,
        on_superseded: Callable[[], None] | None = None,
        heading: ProgressHeading | None = None,
    ) -> BackgroundJob:
        """Run ``work(progress)`` in the explorer's one job slot (any running job is superseded),
        with the overlay's progress bar (its line from ``heading``) and Cancel button;
        ``on_done``/``on_failed`` (Cancelled included) run only if no newer work replaced it; an
        ``on_failed`` that returns True has said what became of the work itself."""
        heading = heading or ProgressHeading(name, self._shown_method())
        with self.overlay.hold_sync():
            self.overlay.busy, self.overlay.progress = True, 0.0
            self.overlay.progress_label = f"computing {name}…"
            self.overlay.error = ""

        def progress(done: int, total: int, description: str) -> None:
            with self.overlay.hold_sync():
                self.overlay.progress = min(1.0, done / total) if total else 0.0
                self.overlay.progress_label = heading.text(done, total)
            if on_progress is not None:
                on_progress(done, total, description)

        def done(result: Any) -> None:
            self.overlay.busy, self.overlay.progress_label = False, ""
            on_done(result)

        def failed(error: BaseException) -> None:
            if on_failed(error):  # it said what became of the work itself
                return
            with self.overlay.hold_sync():
                self.overlay.busy = False  # a cancel is said where the progress was, until the next map
                self.overlay.progress_label = (
                    f"{name} cancelled; the previous map is shown" if isinstance(error, Cancelled) else ""
                )

        return self.jobs.start(work, progress, done, failed, on_superseded)

    def _start_job(self, state: ViewState) -> None:
        """Run a slow method in the background: the shown image first (its map shows when done),
        then the other images as one batch; the result becomes current at the end. Maps a cancelled
        run of the same view finished are kept, not computed again. A cancel keeps what finished."""
        images = self.session.images
        known = self._finished_maps(state)
        first = state.image
        others = [i for i in range(len(images)) if i != state.image and i not in known]
        name = get_method(state.method).class_name
        heading = ProgressHeading(f"{name} for {images.names[first]}" if others else name, self._shown_method())
        job: list[BackgroundJob] = []

        def work(progress: Callable[[int, int, str], bool]) -> Result:
            self._partial.update(known)
            self._partial[first] = self.session.compute_maps(state, [first], progress)[0]
            if others:
                self._show_partial(job, first)
                heading.phase(
                    f"{name} for the other {len(others)} image{'s' if len(others) > 1 else ''}",
                    f"{name} for {images.names[first]}",
                )
                self._partial.update(zip(others, self.session.compute_maps(state, others, progress)))
            return self.session.result_of(state, np.stack([self._partial[i] for i in range(len(images))]))

        def done(result: Result) -> None:
            image = self._pending.image if self._pending is not None else state.image
            self._pending, self._partial = None, {}
            self._show(replace(result, state=self.session.at_image(result.state, image)))

        def failed(error: BaseException) -> bool:
            if isinstance(error, Cancelled) and self._keep_finished(state, name):
                return True
            self._abandon_pending()
            if isinstance(error, Cancelled):
                self._sync_controls()
            else:
                self._fail(error, state)
            return False

        with self._lock:  # the worker shows its first map under the lock: after ``job`` is known
            self._pending, self._partial = state, {}
            self.overlay.stale = True
            job.append(self.background(name, work, done, failed, on_superseded=self._abandon_pending, heading=heading))

    def _finished_maps(self, state: ViewState) -> dict[int, np.ndarray]:
        """The maps the current result holds for ``state`` (at any image) when a cancel left it part-done."""
        current = self.session.result
        if current is None or not current.missing or self.session.at_image(current.state, state.image) != state:
            return {}
        return {i: current.maps[i] for i in range(len(current.maps)) if i not in current.missing}

    def _keep_finished(self, state: ViewState, name: str) -> bool:
        """After a cancel: the maps that finished become the current view (the other images' maps
        are computed when one of them is chosen) and the progress line says which. False when none
        finished."""
        with self._lock:
            finished, self._partial = dict(self._partial), {}
            pending, self._pending = self._pending, None
            if not finished:
                self._pending = pending
                return False
            count = len(self.session.images)
            missing = tuple(i for i in range(count) if i not in finished)
            fill = next(iter(finished.values()))  # a finished map in each missing row: the batch's range is unchanged
            maps = np.stack([finished.get(i, fill) for i in range(count)])
            image = pending.image if pending is not None else state.image
            result = replace(self.session.result_of(state, maps), missing=missing)
            if image in missing:  # the image chosen now has no map of this method: the previous view stays
                self._show_current_at(image)
                note = f"{name} cancelled; the previous map is shown"
            else:
                self._show(replace(result, state=self.session.at_image(result.state, image)))
                note = f"{name} cancelled: its maps of {', '.join(self.session.images.names[i] for i in sorted(finished))} are kept"
                if missing:
                    note += f"; {len(missing)} other image{'s' if len(missing) > 1 else ''} not computed (choose one to compute it)"
            with self.overlay.hold_sync():
                self.overlay.busy, self.overlay.progress_label = False, note
            return True

    def _show_current_at(self, image: int) -> None:
        """The current view again, at ``image``."""
        current = self.session.result
        if current is not None:
            self._show(replace(current, state=self.session.at_image(current.state, image)))

    def _shown_method(self) -> str | None:
        """The class name of the method whose maps are current (None before the first)."""
        return get_method(self.session.result.state.method).class_name if self.session.result is not None else None

    def _show_partial(self, job: list[BackgroundJob], image: int) -> None:
        """Show the running slow method's finished map of ``image`` if that image is the one chosen now.
        ``job`` is read under the lock: the job starting it appends itself there under that lock, and
        a first map can be ready before it has."""
        with self._lock:
            if not job[0].cancelled and self._pending is not None and self._pending.image == image:
                self._follow_image(image)

    def _follow_image(self, image: int) -> None:
        """While a slow method runs, another image was chosen: its finished map if there is one,
        else the current view's map of it, dimmed; the controls keep showing the slow method."""
        with self._lock:
            assert self._pending is not None
            self._pending = self.session.at_image(self._pending, image)
            photo = self.session.shown_input(image)
            if image in self._partial:
                levels, value_range = gray_levels(self._partial[image][None], self._pending.normalise)
                self._display(
                    photo, levels[0], value_range, self.status_text(self._pending), stale=False, state=self._pending
                )
            elif self.session.result is not None:
                current = self.session.result
                shown = self.session.at_image(current.state, image)
                self._display(
                    photo, current.levels[image], current.value_range, self.status_text(shown), stale=True, state=shown
                )
            self._sync_controls()

    def _abandon_pending(self) -> None:
        """The slow method stopped (cancelled, failed or replaced): the current view shows again, at the image chosen last."""
        with self._lock:
            pending, self._pending, self._partial = self._pending, None, {}
            if pending is not None:
                self._show_current_at(pending.image)

    def _stop_job(self) -> None:
        """Stop background work on the model (a slow method, a panel's job) before the next change."""
        self.jobs.supersede()
        self.jobs.wait()
