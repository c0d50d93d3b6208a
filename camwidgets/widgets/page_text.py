"""Pictures in ipywidgets, and the page's escaped text (:func:`~camwidgets.core.text.text_html`)."""

from __future__ import annotations

import ipywidgets

from ..core.text import text_html

__all__ = ["text_html", "image_widget"]


def image_widget(png: bytes = b"", width: str = "224px") -> ipywidgets.Image:
    """A PNG image shown only once it holds a picture (an empty one draws the browser's broken-image icon)."""
    image = ipywidgets.Image(
        value=png, format="png", layout=ipywidgets.Layout(width=width, display="" if png else "none")
    )
    image.observe(lambda change: setattr(image.layout, "display", "" if change["new"] else "none"), names="value")
    return image
