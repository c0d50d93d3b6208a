"""Guided: guided backprop, the current CAM and Guided Grad-CAM for the current image and target."""

from __future__ import annotations

from typing import Any

import torch

from ...compat.preprocessing import deprocess_image
from ...core.pictures import overlay_thumbnails, to_png
from ...engine import guided_backprop, guided_gradcam, relu6_count
from ...widgets.fields import HTML, Button, Checkbox, Label
from ...widgets.parts import Column, Row
from ..worker import BackgroundJob
from .base import BackgroundTab, HTMLMessage, TabHost, image_widget

__all__ = ["GuidedTab"]


class GuidedTab(HTMLMessage, BackgroundTab):
    """Guided backprop, the current CAM and Guided Grad-CAM for the current image and target."""

    key = "guided"
    title = "Guided"
    kinds = ("image",)  # guided backpropagation is drawn as a 2-D picture
    several_inputs = False  # it runs the model on one input
    name = "guided backprop"

    def __init__(self, session: Any, host: TabHost) -> None:
        super().__init__(session, host)

        self.button = Button(description="Show guided")
        self.relu6_layers = relu6_count(session.model)
        self.relu6 = Checkbox(
            value=self.relu6_layers > 0,
            description="guide ReLU6 too",
            tooltip="ReLU6 (MobileNet's activation) guided like ReLU; without it a ReLU6 model's picture is noise",
        )
        self.message = HTML()
        self.images = [image_widget() for _ in range(3)]
        captions = ["guided backprop", "CAM", "Guided Grad-CAM"]
        self.button.on_click(lambda _: self.start())
        columns = [Column([Label(value=c), image]) for c, image in zip(captions, self.images)]
        self.box = Column([Row([self.button, self.relu6]), self.message, Row(columns)])

    def start(self) -> BackgroundJob | None:
        """Compute the three pictures in the background for the image and target shown."""

        session = self.session
        result = session.result
        if result is None:
            return None
        state = result.state
        x = session.images.batch[state.image : state.image + 1]
        self.say("computing guided backprop…")

        relu6 = self.relu6.value

        def work(progress: Any) -> Any:
            return guided_backprop(
                session.model,
                x,
                session.targets(state, [state.image]),
                output_selector=session.output_selector,
                relu6=relu6,
            )

        def show(guided: torch.Tensor) -> None:
            cam = torch.as_tensor(result.maps[state.image : state.image + 1], device=guided.device)
            combined = guided_gradcam(cam, guided.float())
            shown = overlay_thumbnails(
                session.images.photos[state.image : state.image + 1],
                result.levels[state.image : state.image + 1],
                result.levels.shape[-1],
            )[0]
            pictures = [
                deprocess_image(guided[0].float().cpu().numpy()),
                shown,
                deprocess_image(combined[0].cpu().numpy()),
            ]
            for widget, picture in zip(self.images, pictures):
                widget.value = to_png(picture)
            guided = f"; its {self.relu6_layers} ReLU6 layers guided too" if relu6 and self.relu6_layers else ""
            self.say(f"for {session.status_text(state)}{guided}")

        return self.run(work, show)
