"""Progress reporting and cancellation for long methods (ScoreCAM, AblationCAM, DFF, ...).

A method takes ``progress``:

- ``None`` (default): a ``tqdm.auto`` bar, shown only for work of more than one step;
- ``False``: silent;
- a callable ``progress(done, total, description)``: called after each step. Returning ``False``
  (or raising :class:`Cancelled`) stops the method; it raises :class:`Cancelled` after restoring
  the model (hooks removed, modules and modes as they were).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Union

__all__ = ["Cancelled", "Progress", "ProgressCallback", "ProgressOption"]

ProgressCallback = Callable[[int, int, str], Any]
ProgressOption = Union[None, bool, ProgressCallback]  # noqa: UP007  (a run-time alias: X | Y of a Callable alias fails on Python 3.10)


class Cancelled(RuntimeError):
    """Raised when a progress callback asked to stop; the model is left as it was."""


class Progress:
    """Counts steps of one long computation and forwards them to a callback or a tqdm bar.

    ``advance(n)`` adds ``n`` done steps and raises :class:`Cancelled` if the callback returned
    ``False``. Use as a context manager so the bar is closed whatever happens. ``unit`` names a
    step on the bar (its rate reads "img/s" for ``unit="img"``).
    """

    def __init__(self, total: int, description: str = "", progress: ProgressOption = None, unit: str = "it") -> None:
        if progress is not None and progress is not False and progress is not True and not callable(progress):
            raise TypeError(
                f"progress must be None, False or a callable(done, total, description); got {type(progress).__name__}"
            )
        self.total = max(int(total), 0)
        self.description = description
        self.done = 0
        self._callback = progress if callable(progress) and progress is not True else None
        self._bar = None
        if (progress is None or progress is True) and self.total > 1:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, desc=description, leave=False, unit=unit)

    def advance(self, steps: int = 1) -> None:
        self.done = min(self.done + int(steps), self.total) if self.total else self.done + int(steps)
        if self._bar is not None:
            self._bar.update(steps)
        if self._callback is not None and self._callback(self.done, self.total, self.description) is False:
            raise Cancelled(f"{self.description or 'computation'} cancelled after {self.done} of {self.total} steps")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
