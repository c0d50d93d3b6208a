"""Run slow work in a background thread so the kernel keeps handling messages (Cancel among them).

The job gets a progress callback ``(done, total, description)``; it returns False once
:meth:`BackgroundJob.cancel` was called, which makes the engine stop with ``Cancelled`` after
restoring the model. ``on_done(result)`` or ``on_error(exception)`` run in the worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["BackgroundJob", "JobSlot"]

Progress = Callable[[int, int, str], bool]  # (done, total, description) -> False to cancel
Work = Callable[[Progress], Any]
OnProgress = Callable[[int, int, str], None]


class BackgroundJob:
    def __init__(
        self,
        work: Work,
        on_progress: OnProgress,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._cancel = threading.Event()
        self.superseded = False  # cancelled because newer work replaces it (nothing to report)
        self.on_superseded: Callable[[], None] | None = None
        self._work, self._on_progress, self._on_done, self._on_error = work, on_progress, on_done, on_error
        self._thread = threading.Thread(target=self._run, name="camwidgets-job", daemon=True)

    def start(self) -> BackgroundJob:
        self._thread.start()
        return self

    def _progress(self, done: int, total: int, description: str) -> bool:
        self._on_progress(done, total, description)
        return not self._cancel.is_set()

    def _run(self) -> None:
        try:
            result = self._work(self._progress)
        except BaseException as error:  # reported to the widget, never lost in a thread
            self._on_error(error)
        else:
            self._on_done(result)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ended; True if it did within ``timeout``."""
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()


class JobSlot:
    """The one slot for background work on a model (a slow method, a panel's computation).

    Starting a job supersedes and cancels every job still running; only the current job's
    ``on_done``/``on_error`` run, under ``lock`` (so a superseded job finishing late shows nothing).
    :meth:`cancel` cancels every running job, superseded ones included."""

    def __init__(self, lock: threading.RLock | None = None) -> None:
        self.lock = lock if lock is not None else threading.RLock()
        self._current: BackgroundJob | None = None
        self._live: set[BackgroundJob] = set()

    def start(
        self,
        work: Work,
        on_progress: OnProgress,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
        on_superseded: Callable[[], None] | None = None,
    ) -> BackgroundJob:
        """Start ``work(progress)`` in a worker thread after superseding the running jobs;
        ``on_superseded()`` runs (under the lock) if newer work replaces this one before it ends."""
        job: BackgroundJob

        def report(callback: Callable[[Any], None], value: Any) -> None:
            with self.lock:
                self._live.discard(job)
                if job is not self._current:
                    return
                self._current = None
                callback(value)

        def progress(done: int, total: int, description: str) -> None:
            if job is self._current:
                on_progress(done, total, description)

        with self.lock:
            self.supersede()
            job = BackgroundJob(
                work, progress, lambda result: report(on_done, result), lambda error: report(on_error, error)
            )
            job.on_superseded = on_superseded
            self._current = job
            self._live.add(job)
            job.start()
        return job

    def supersede(self) -> None:
        """Cancel every running job as replaced by newer work: none of them reports anything."""
        with self.lock:
            for job in self._live:
                if not job.superseded:
                    job.superseded = True
                    job.cancel()
                    if job.on_superseded is not None:
                        job.on_superseded()
            self._current = None

    def cancel(self) -> None:
        """Cancel every running job; the current one reports its ``Cancelled``."""
        with self.lock:
            for job in self._live:
                job.cancel()

    @property
    def running(self) -> bool:
        return any(job.running for job in list(self._live))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every job ended (``timeout`` for each); True if they all did."""
        return all(job.wait(timeout) for job in list(self._live))
