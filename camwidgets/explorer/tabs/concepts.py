"""Concepts: Deep Feature Factorization at the current layer, concepts named by the model's head."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ...cams import DeepFeatureFactorization
from ...core.pictures import overlay_thumbnails, to_png
from ...engine import Layout
from ...render.factorization import create_labels, show_factorization_on_image
from ...widgets.fields import HTML, Button, IntBox
from ...widgets.parts import Column, Row
from ...widgets.thumbnails import ThumbnailGrid
from ..worker import BackgroundJob
from .base import BackgroundTab, HTMLMessage, TabHost, image_widget
from .compare import COMPARE_SIZE

__all__ = ["ConceptsTab", "classifier_head"]


def classifier_head(model: nn.Module, channels: int, classes: int) -> nn.Module | None:
    """The model's last ``nn.Linear`` from ``channels`` features to ``classes`` scores (it scores a DFF
    concept), if there is one."""
    heads = [
        m
        for m in model.modules()
        if isinstance(m, nn.Linear) and (m.in_features, m.out_features) == (channels, classes)
    ]
    return heads[-1] if heads else None


class ConceptsTab(HTMLMessage, BackgroundTab):
    """Deep Feature Factorization at the current (first) layer: a concept map per image coloured by
    concept, a legend with each concept's top classes, and each concept's own map."""

    key = "concepts"
    title = "Concepts"
    kinds = ("image",)  # its concept grid shows photos
    several_inputs = False  # it runs the model on one input
    name = "Concepts"

    def __init__(self, session: Any, host: TabHost) -> None:
        super().__init__(session, host)
        # a number box, not a slider: JupyterLab would take the arrow keys from a slider handle
        self.count = IntBox(description="Concepts", value=4, min=2, max=10)
        self.button = Button(description="Factorize")
        self.message = HTML()
        self.picture = image_widget(width="448px")
        self.grid = ThumbnailGrid(testid="cw-concepts", item_testid="cw-concept-item", title="Concept maps")
        self.button.on_click(lambda _: self.start())
        self.box = Column([Row([self.count, self.button]), self.message, self.picture, self.grid])

    def start(self) -> BackgroundJob | None:
        """Factorize the current (first) layer's activations of all images in the background."""

        session = self.session
        state = session.state
        layer = state.layers[0]
        channels = self._channels(layer)
        head = classifier_head(session.model, channels, len(session.labels)) if channels else None
        count = int(self.count.value)
        self.say(f"factorizing {layer}…")

        def work(progress: Any) -> Any:
            dff = DeepFeatureFactorization(session.model, layer, computation_on_concepts=head, progress=progress)
            return dff(session.images.batch, count)

        def show(outcome: tuple) -> None:
            concepts, explanations, *scored = outcome
            scores = scored[0] if scored else None  # concept scores come only with a classifier head
            found = explanations.shape[1]
            if scores is not None:
                legend = create_labels(
                    torch.softmax(torch.as_tensor(scores).float(), dim=-1).numpy(), 2, session.labels
                )
            else:
                legend = [f"concept {k}" for k in range(found)]
            photo = session.images.photos[state.image]
            shown = show_factorization_on_image(
                np.float32(photo) / 255, explanations[state.image], concept_labels=legend
            )
            self.picture.value = to_png(shown)
            levels = np.rint(np.clip(explanations[state.image], 0, 1) * 255).astype(np.uint8)
            pictures = overlay_thumbnails(np.repeat(photo[None], found, axis=0), levels, COMPARE_SIZE)
            self.grid.set_pictures(
                [str(k) for k in range(found)], pictures, captions=[text.replace("\n", "; ") for text in legend]
            )
            self.say(f"{found} concepts at {layer} over {len(session.images)} images")

        return self.run(work, show)

    def _channels(self, layer: str) -> int | None:
        for node in self.session.tree.nodes:
            if node.path == layer and node.layout in (Layout.NCHW, Layout.NHWC):
                sizes = node.shape.split("×")
                return int(sizes[-1] if node.layout == Layout.NHWC else sizes[0])
        return None
