"""What every tab of the explorer shares: a host interface (the explorer's job slot and export),
the background-panel base (start returns the job, compute waits for it), and escaped text.

Tabs depend on the :class:`~camwidgets.explorer.session.ExplorerSession` (model, images, current
state and result, status text) and on a :class:`TabHost`, never on the explorer itself. Every text
that reaches the page goes through :func:`~camwidgets.widgets.page_text.text_html`: class labels, module names, exception
messages and paths are data, never markup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ...engine import METHODS, Cancelled
from ...widgets.fields import HTML
from ...widgets.page_text import image_widget, text_html
from ...widgets.parts import Part
from ..worker import BackgroundJob

__all__ = ["TabHost", "Tab", "BackgroundTab", "HTMLMessage", "text_html", "error_text", "image_widget", "STOPPED"]

STOPPED = "stopped: a newer computation took over"


class TabHost(Protocol):
    """What a tab may ask of the explorer that holds it."""

    def background(
        self,
        name: str,
        work: Callable[[Any], Any],
        on_done: Callable[[Any], None],
        on_failed: Callable[[BaseException], None],
        on_progress: Callable[[int, int, str], None] | None = None,
        on_superseded: Callable[[], None] | None = None,
    ) -> BackgroundJob: ...

    def export(self, path: Any) -> dict: ...

    @property
    def theme(self) -> str:
        """The notebook's theme, 'light' or 'dark' (charts are drawn in it)."""
        ...

    def request_view(self, **changes: Any) -> None:
        """Show this view in the main overlay (``method``, ``image``, ``layers``, ...); a refusal is shown there."""
        ...


def error_text(error: BaseException) -> str:
    return str(error) if isinstance(error, Cancelled) else f"{type(error).__name__}: {error}"


def method_choices(names: Any = None) -> list[tuple[str, str]]:
    """The registered methods (``names``: those only) as (class name, registry name): the names the main menu shows."""
    return [(spec.class_name, name) for name, spec in METHODS.items() if names is None or name in names]


class Tab:
    """A tab: ``key`` (its name under ``explorer.panels``), ``title``, ``box`` (its widgets),
    ``stop()`` (ends its running work), ``kinds`` (the inputs it means something for)."""

    key = ""
    title = ""
    kinds: tuple[str, ...] = ("image", "volume", "clip", "signal")
    several_inputs = True  # it works for a model with several inputs (through the session's explainers)
    box: Part

    def __init__(self, session: Any, host: TabHost) -> None:
        self.session = session
        self.host = host
        self.job: BackgroundJob | None = None

    def stop(self, wait: bool = True) -> None:
        """Cancel this tab's running job (and wait for it to end)."""
        job = self.job
        if job is not None and job.running:
            job.cancel()
            if wait:
                job.wait()


class BackgroundTab(Tab):
    """A tab whose button computes in the host's job slot: :meth:`start` returns the job at once,
    :meth:`compute` waits for it. Subclasses say how a note or an error is shown (:meth:`say`)."""

    name = ""

    def say(self, text: str, error: bool = False) -> None:
        raise NotImplementedError

    def start(self) -> BackgroundJob | None:
        raise NotImplementedError

    def compute(self) -> None:
        """Compute and wait for the result (for use from Python)."""
        job = self.start()
        if job is not None:
            job.wait()

    def run(
        self,
        work: Callable[[Any], Any],
        show: Callable[[Any], None],
        on_progress: Any = None,
        superseded: str = STOPPED,
    ) -> BackgroundJob:
        """``work(progress)`` in the job slot; ``show(result)`` when it worked; errors and Cancelled said here."""
        self.job = self.host.background(
            self.name,
            work,
            show,
            lambda error: self.say(error_text(error), error=True),
            on_progress=on_progress,
            on_superseded=lambda: self.say(superseded, error=True),
        )
        return self.job


class HTMLMessage:
    """``say`` into an :class:`~camwidgets.widgets.fields.HTML` named ``message``, escaped."""

    message: HTML

    def say(self, text: str, error: bool = False) -> None:
        self.message.value = text_html(text, "cw-error" if error else "")
