"""Export: save the current view (PNG) and state (.npz + .json) under a path stem."""

from __future__ import annotations

from typing import Any

from ...widgets.fields import HTML, Button, Text
from ...widgets.parts import Column, Row
from .base import HTMLMessage, Tab, TabHost, error_text

__all__ = ["ExportTab"]


class ExportTab(HTMLMessage, Tab):
    """Save the current view (PNG) and state (.npz + .json) under a path stem."""

    key = "export"
    title = "Export"

    def __init__(self, session: Any, host: TabHost) -> None:
        super().__init__(session, host)
        self.path = Text(description="Save as", value="camwidgets-view")
        self.button = Button(description="Export")
        self.message = HTML()
        self.button.on_click(lambda _: self.save())
        self.box = Column([Row([self.path, self.button]), self.message])

    def save(self) -> None:
        try:
            paths = self.host.export(self.path.value)
        except Exception as error:
            self.say(error_text(error), error=True)
            return
        self.say("saved " + ", ".join(str(path) for path in paths.values()))
