"""Run slow work in a background thread so the kernel keeps handling messages (Cancel among them).

The job gets a progress callback ``(done, total, description)``; it returns False once
:meth:`BackgroundJob.cancel` was called, which makes the engine stop with ``Cancelled`` after
restoring the model. ``on_done(result)`` or ``on_error(exception)`` run in the worker thread.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

__all__ = ["BackgroundJob"]


class BackgroundJob:
    def __init__(
        self,
        work: Callable[[Callable[[int, int, str], bool]], Any],
        on_progress: Callable[[int, int, str], None],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._cancel = threading.Event()
        self.superseded = False  # cancelled because newer work replaces it (nothing to report)
        self._work, self._on_progress, self._on_done, self._on_error = work, on_progress, on_done, on_error
        self._thread = threading.Thread(target=self._run, name="camwidgets-job", daemon=True)

    def start(self) -> "BackgroundJob":
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
