""" "Which should I use?": rank methods x layers by a metric on the images, in the background."""

from __future__ import annotations

import io
from typing import Any

from ...engine import Cancelled, single_capture_methods
from ...metrics.registry import model_metrics
from ...metrics.tuner import rank_methods
from ...render.charts import chart_theme
from ...widgets.fields import HTML, Button, Dropdown, Progress, SelectMultiple
from ...widgets.parts import Column, Row
from ..worker import BackgroundJob
from .base import BackgroundTab, TabHost, image_widget, method_choices, text_html

__all__ = ["RankingTab"]


class RankingTab(BackgroundTab):
    """ "Which should I use?": rank methods x layers by a metric on the images, in the background
    (Cancel, or any change of the main view, stops it after the combination being scored)."""

    key = "metrics"
    title = "Which should I use?"
    kinds = ("image",)  # its metrics perturb 2-D images
    several_inputs = False  # it runs the model on one input
    name = "ranking"

    def __init__(self, session: Any, host: TabHost) -> None:
        super().__init__(session, host)
        session = self.session
        single_capture = single_capture_methods()
        self.methods = SelectMultiple(
            description="Methods",
            options=method_choices(session.methods),
            value=[name for name in single_capture if name in session.methods][:4],
            rows=6,
        )
        # the chosen layers first, then the stages deepest first: what is picked is in sight
        layer_options = list(dict.fromkeys([*session.state.layers, *reversed(session.tree.stages)]))
        self.layers = SelectMultiple(
            description="Layers", options=layer_options, value=list(session.state.layers), rows=6
        )
        self.metric = Dropdown(description="Metric", options=model_metrics())  # the registry's, without ground truth
        self.button = Button(description="Rank")
        self.cancel_button = Button(description="Cancel")
        self.progress = Progress(value=0.0, max=1.0, description="Progress")
        self.table = HTML()
        self.chart = image_widget(width="480px")
        self.ranking: Any = None
        self.button.on_click(lambda _: self.start())
        self.cancel_button.on_click(lambda _: self.stop(wait=False))
        controls = Column([self.metric, self.button, self.cancel_button])
        self.box = Column([Row([self.methods, self.layers, controls]), self.progress, self.table, self.chart])

    def start(self) -> BackgroundJob | None:

        if self.job is not None and self.job.running and not self.job.superseded:
            return self.job
        session = self.session
        state = session.state
        methods, layers, metric = (
            list(dict.fromkeys(self.methods.value)),
            list(dict.fromkeys(self.layers.value)),
            self.metric.value,
        )
        targets = session.targets(state)

        def work(progress: Any) -> Any:
            def step(done: int, total: int, description: str) -> None:
                if progress(done, total, description) is False:  # between combinations: no hook is active
                    raise Cancelled(f"ranking cancelled after {done} of {total} combinations")

            return rank_methods(
                session.model,
                session.images.batch,
                targets,
                methods=methods,
                layers=layers,
                metric=metric,
                progress=step,
            )

        def show(done: int, total: int, description: str) -> None:
            self.progress.value = done / total if total else 0.0
            self.progress.description = f"{done}/{total}"

        self.progress.value = 0.0
        self.say("ranking…")
        return self.run(work, self._done, on_progress=show, superseded="ranking cancelled: the view changed")

    def _done(self, ranking: Any) -> None:
        self.ranking = ranking
        self.table.value = text_html(ranking.to_text(), pre=True)
        self.redraw()

    def redraw(self) -> None:
        """Draw the ranking's chart in the notebook's theme (again when the theme changes)."""
        if self.ranking is None:
            return
        buffer = io.BytesIO()
        with chart_theme(self.host.theme):
            self.ranking.chart().savefig(buffer, format="png", dpi=80)
        self.chart.value = buffer.getvalue()

    def say(self, text: str, error: bool = False) -> None:
        self.table.value = text_html(text, "cw-error" if error else "")
