"""The explorer's lower tabs: compare grid, guided view, concepts (DFF), metrics ranking, export.

Each panel computes on request (a button) in the explorer's background job slot, so the kernel keeps
handling messages (Cancel among them) and a running slow method is superseded rather than waited
for; each shows its own errors; none changes the main view. ``start()`` returns at once,
``compute()`` waits for the result (for use from Python). Every text that reaches the page is
HTML-escaped: class labels, module names, exception messages and paths are data, never markup.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import ipywidgets
import numpy as np
import torch
from torch import nn

from ..engine.methods.registry import METHODS, single_capture_methods
from ..engine.progress import Cancelled
from ..engine.reshape import Layout
from .pictures import overlay_thumbnails, to_png
from .session import gray_levels
from .thumbnails import ThumbnailGrid
from .worker import BackgroundJob

if TYPE_CHECKING:
    from .explorer import CAMExplorer

__all__ = ["Panels", "build_panels", "CompareView", "GuidedView", "ConceptView", "MetricsPanel", "ExportPanel"]

COMPARE_SIZE = 96
DEFAULT_COMPARE = ("gradcam", "gradcam++", "layercam", "eigencam")
STOPPED = "stopped: a newer computation took over"


def _error_text(error: BaseException) -> str:
    return str(error) if isinstance(error, Cancelled) else f"{type(error).__name__}: {error}"


def text_html(text: str, css_class: str = "", pre: bool = False) -> str:
    """``text`` as HTML that shows it literally (escaped), in a ``span`` (or ``pre``) with ``css_class``."""
    tag = "pre" if pre else "span"
    attribute = f" class='{html.escape(css_class, quote=True)}'" if css_class else ""
    return f"<{tag}{attribute}>{html.escape(str(text), quote=True)}</{tag}>"


def _image(png: bytes = b"", width: str = "224px") -> ipywidgets.Image:
    return ipywidgets.Image(value=png, format="png", layout=ipywidgets.Layout(width=width))


class BackgroundPanel:
    """A panel whose button computes in the explorer's job slot: :meth:`start` returns the job at
    once, :meth:`compute` waits for it. Subclasses say how a note or an error is shown (:meth:`say`)."""

    name = ""

    def __init__(self, explorer: "CAMExplorer") -> None:
        self.explorer = explorer

    def say(self, text: str, error: bool = False) -> None:
        raise NotImplementedError

    def start(self) -> BackgroundJob | None:
        raise NotImplementedError

    def compute(self) -> None:
        """Compute and wait for the result (for use from Python)."""
        job = self.start()
        if job is not None:
            job.wait()

    def run(self, work: Callable[[Any], Any], show: Callable[[Any], None], on_progress: Any = None, superseded: str = STOPPED) -> BackgroundJob:
        """``work(progress)`` in the job slot; ``show(result)`` when it worked; errors and Cancelled said here."""
        return self.explorer.background(
            self.name, work, show, lambda error: self.say(_error_text(error), error=True), on_progress=on_progress,
            on_superseded=lambda: self.say(superseded, error=True),
        )


class HTMLMessage:
    """``say`` into an ``ipywidgets.HTML`` named ``message``, escaped."""

    message: ipywidgets.HTML

    def say(self, text: str, error: bool = False) -> None:
        self.message.value = text_html(text, "cw-error" if error else "")


class CompareView(BackgroundPanel):
    """Methods x images (current layers) or methods x layers (current image), for the current target."""

    name = "Compare"

    def __init__(self, explorer: "CAMExplorer") -> None:
        super().__init__(explorer)
        choices = [name for name in DEFAULT_COMPARE if name in METHODS] or list(METHODS)[:2]
        self.methods = ipywidgets.SelectMultiple(description="Methods", options=list(METHODS), value=choices, rows=6)
        self.by = ipywidgets.ToggleButtons(description="Columns", options=[("images", "images"), ("layers", "layers")])
        self.button = ipywidgets.Button(description="Compare")
        self.grid = ThumbnailGrid(testid="cw-compare", item_testid="cw-compare-item", title="Compare")
        self.button.on_click(lambda _: self.start())
        self.box = ipywidgets.VBox([ipywidgets.HBox([self.methods, ipywidgets.VBox([self.by, self.button])]), self.grid])

    def start(self) -> BackgroundJob:
        """Compute the grid in the background for the current view."""
        explorer = self.explorer
        session, state = explorer.session, explorer.state
        methods = list(dict.fromkeys(self.methods.value))  # the front end may send an index twice
        by = self.by.value
        layers = list(state.layers) if len(state.layers) > 1 or by == "images" else session.tree.stages[-4:]
        self.grid.message = "comparing…"

        def work(progress: Any) -> Any:
            return session.compare(state, methods, by=by, layers=layers, progress=progress)

        def show(outcome: tuple[list[str], np.ndarray]) -> None:
            columns, maps = outcome
            photos = session.images.photos if by == "images" else session.images.photos[[state.image] * len(columns)]
            cells = [overlay_thumbnails(photos, gray_levels(row, state.normalise)[0], COMPARE_SIZE) for row in maps]
            keys = [f"{m}|{c}" for m in methods for c in columns]
            self.grid.set_pictures(
                keys, np.concatenate(cells), captions=[f"{m} · {c}" for m in methods for c in columns],
                columns=len(columns), row_labels=methods, column_labels=list(columns),
            )

        return self.run(work, show)

    def say(self, text: str, error: bool = False) -> None:
        self.grid.message = f"compare failed: {text}" if error else text


class GuidedView(HTMLMessage, BackgroundPanel):
    """Guided backprop, the current CAM and Guided Grad-CAM for the current image and target."""

    name = "guided backprop"

    def __init__(self, explorer: "CAMExplorer") -> None:
        super().__init__(explorer)
        self.button = ipywidgets.Button(description="Show guided")
        self.message = ipywidgets.HTML()
        self.images = [_image() for _ in range(3)]
        captions = ["guided backprop", "CAM", "Guided Grad-CAM"]
        self.button.on_click(lambda _: self.start())
        columns = [ipywidgets.VBox([ipywidgets.Label(c), image]) for c, image in zip(captions, self.images)]
        self.box = ipywidgets.VBox([self.button, self.message, ipywidgets.HBox(columns)])

    def start(self) -> BackgroundJob | None:
        """Compute the three pictures in the background for the image and target shown."""
        from ..engine.guided import guided_backprop, guided_gradcam
        from ..preprocessing import deprocess_image

        explorer = self.explorer
        session, result = explorer.session, explorer.result
        if result is None:
            return None
        state = result.state
        x = session.images.batch[state.image : state.image + 1]
        self.say("computing guided backprop…")

        def work(progress: Any) -> Any:
            with session.lock:
                return guided_backprop(session.model, x, session.targets(state, 1), output_selector=session.output_selector)

        def show(guided: torch.Tensor) -> None:
            cam = torch.as_tensor(result.maps[state.image : state.image + 1], device=guided.device)
            combined = guided_gradcam(cam, guided.float())
            shown = overlay_thumbnails(session.images.photos[state.image : state.image + 1], result.levels[state.image : state.image + 1], result.levels.shape[-1])[0]
            pictures = [deprocess_image(guided[0].float().cpu().numpy()), shown, deprocess_image(combined[0].cpu().numpy())]
            for widget, picture in zip(self.images, pictures):
                widget.value = to_png(picture)
            self.say(f"for {explorer.status_text(state)}")

        return self.run(work, show)


def classifier_head(model: nn.Module, channels: int, classes: int) -> nn.Module | None:
    """The model's last ``nn.Linear`` from ``channels`` features to ``classes`` scores (it scores a DFF
    concept), if there is one."""
    heads = [m for m in model.modules() if isinstance(m, nn.Linear) and (m.in_features, m.out_features) == (channels, classes)]
    return heads[-1] if heads else None


class ConceptView(HTMLMessage, BackgroundPanel):
    """Deep Feature Factorization at the current (first) layer: a concept map per image coloured by
    concept, a legend with each concept's top classes, and each concept's own map."""

    name = "Concepts"

    def __init__(self, explorer: "CAMExplorer") -> None:
        super().__init__(explorer)
        # a number box, not a slider: JupyterLab would take the arrow keys from a slider handle
        self.count = ipywidgets.BoundedIntText(description="Concepts", value=4, min=2, max=10)
        self.button = ipywidgets.Button(description="Factorize")
        self.message = ipywidgets.HTML()
        self.picture = _image(width="448px")
        self.grid = ThumbnailGrid(testid="cw-concepts", item_testid="cw-concept-item", title="Concept maps")
        self.button.on_click(lambda _: self.start())
        self.box = ipywidgets.VBox([ipywidgets.HBox([self.count, self.button]), self.message, self.picture, self.grid])

    def start(self) -> BackgroundJob | None:
        """Factorize the current (first) layer's activations of all images in the background."""
        from ..cams import DeepFeatureFactorization
        from ..render.factorization import create_labels, show_factorization_on_image

        explorer = self.explorer
        session, state = explorer.session, explorer.state
        layer = state.layers[0]
        channels = self._channels(layer)
        head = classifier_head(session.model, channels, len(session.labels)) if channels else None
        count = int(self.count.value)
        self.say(f"factorizing {layer}…")

        def work(progress: Any) -> Any:
            dff = DeepFeatureFactorization(session.model, layer, computation_on_concepts=head, progress=progress)
            with session.lock:
                return dff(session.images.batch, count)

        def show(outcome: tuple) -> None:
            concepts, explanations, *scored = outcome
            scores = scored[0] if scored else None  # concept scores come only with a classifier head
            found = explanations.shape[1]
            if scores is not None:
                legend = create_labels(torch.softmax(torch.as_tensor(scores).float(), dim=-1).numpy(), 2, session.labels)
            else:
                legend = [f"concept {k}" for k in range(found)]
            photo = session.images.photos[state.image]
            shown = show_factorization_on_image(np.float32(photo) / 255, explanations[state.image], concept_labels=legend)
            self.picture.value = to_png(shown)
            levels = np.rint(np.clip(explanations[state.image], 0, 1) * 255).astype(np.uint8)
            pictures = overlay_thumbnails(np.repeat(photo[None], found, axis=0), levels, COMPARE_SIZE)
            self.grid.set_pictures([str(k) for k in range(found)], pictures, captions=[text.replace("\n", "; ") for text in legend])
            self.say(f"{found} concepts at {layer} over {len(session.images)} images")

        return self.run(work, show)

    def _channels(self, layer: str) -> int | None:
        for node in self.explorer.session.tree.nodes:
            if node.path == layer and node.layout in (Layout.NCHW, Layout.NHWC):
                sizes = node.shape.split("×")
                return int(sizes[-1] if node.layout == Layout.NHWC else sizes[0])
        return None


class MetricsPanel(BackgroundPanel):
    """"Which should I use?": rank methods x layers by a metric on the images, in the background
    (Cancel, or any change of the main view, stops it after the combination being scored)."""

    name = "ranking"

    def __init__(self, explorer: "CAMExplorer") -> None:
        super().__init__(explorer)
        session = explorer.session
        single_capture = single_capture_methods()
        self.methods = ipywidgets.SelectMultiple(description="Methods", options=list(METHODS), value=single_capture[:4], rows=6)
        layer_options = list(dict.fromkeys([*session.tree.stages, *session.state.layers]))
        self.layers = ipywidgets.SelectMultiple(description="Layers", options=layer_options, value=list(session.state.layers), rows=6)
        self.metric = ipywidgets.Dropdown(description="Metric", options=["road", "drop", "deletion", "insertion"])
        self.button = ipywidgets.Button(description="Rank")
        self.cancel_button = ipywidgets.Button(description="Cancel")
        self.progress = ipywidgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="Progress")
        self.table = ipywidgets.HTML()
        self.chart = _image(width="480px")
        self.job: BackgroundJob | None = None
        self.ranking: Any = None
        self.button.on_click(lambda _: self.start())
        self.cancel_button.on_click(lambda _: self.stop(wait=False))
        controls = ipywidgets.VBox([self.metric, self.button, self.cancel_button])
        self.box = ipywidgets.VBox([ipywidgets.HBox([self.methods, self.layers, controls]), self.progress, self.table, self.chart])

    def start(self) -> BackgroundJob | None:
        from ..metrics.tuner import rank_methods

        if self.job is not None and self.job.running and self.job is self.explorer.jobs.current:
            return self.job
        explorer = self.explorer
        session, state = explorer.session, explorer.state
        methods, layers, metric = list(dict.fromkeys(self.methods.value)), list(dict.fromkeys(self.layers.value)), self.metric.value
        targets = session.targets(state)

        def work(progress: Any) -> Any:
            def step(done: int, total: int, description: str) -> None:
                if progress(done, total, description) is False:  # between combinations: no hook is active
                    raise Cancelled(f"ranking cancelled after {done} of {total} combinations")

            with session.lock:
                return rank_methods(session.model, session.images.batch, targets, methods=methods, layers=layers, metric=metric, progress=step)

        def show(done: int, total: int, description: str) -> None:
            self.progress.value = done / total if total else 0.0
            self.progress.description = f"{done}/{total}"

        self.progress.value = 0.0
        self.say("ranking…")
        self.job = self.run(work, self._done, on_progress=show, superseded="ranking cancelled: the view changed")
        return self.job

    def stop(self, wait: bool = True) -> None:
        """Cancel a running ranking (and wait for it to end)."""
        job = self.job
        if job is not None and job.running:
            job.cancel()
            if wait:
                job.wait()

    def _done(self, ranking: Any) -> None:
        self.ranking = ranking
        self.table.value = text_html(ranking.to_text(), pre=True)
        buffer = io.BytesIO()
        ranking.chart().savefig(buffer, format="png", dpi=80)
        self.chart.value = buffer.getvalue()

    def say(self, text: str, error: bool = False) -> None:
        self.table.value = text_html(text, "cw-error" if error else "")


class ExportPanel(HTMLMessage):
    """Save the current view (PNG) and state (.npz + .json) under a path stem."""

    def __init__(self, explorer: "CAMExplorer") -> None:
        self.explorer = explorer
        self.path = ipywidgets.Text(description="Save as", value="camwidgets-view")
        self.button = ipywidgets.Button(description="Export")
        self.message = ipywidgets.HTML()
        self.button.on_click(lambda _: self.save())
        self.box = ipywidgets.VBox([ipywidgets.HBox([self.path, self.button]), self.message])

    def save(self) -> None:
        try:
            paths = self.explorer.export(self.path.value)
        except Exception as error:
            self.say(_error_text(error), error=True)
            return
        self.say("saved " + ", ".join(str(path) for path in paths.values()))


@dataclass
class Panels:
    compare: CompareView
    guided: GuidedView
    concepts: ConceptView
    metrics: MetricsPanel
    export: ExportPanel
    tabs: ipywidgets.Tab


def build_panels(explorer: "CAMExplorer") -> Panels:
    parts = [CompareView(explorer), GuidedView(explorer), ConceptView(explorer), MetricsPanel(explorer), ExportPanel(explorer)]
    tabs = ipywidgets.Tab(children=[part.box for part in parts], titles=["Compare", "Guided", "Concepts", "Which should I use?", "Export"])
    return Panels(*parts, tabs=tabs)
