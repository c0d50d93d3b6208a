"""Pictures as parts, and the page's escaped text (:func:`~camwidgets.core.text.text_html`)."""

from __future__ import annotations

from ..core.text import text_html
from .fields import Image

__all__ = ["text_html", "image_widget"]


def image_widget(png: bytes = b"", width: str = "224px") -> Image:
    """A PNG picture, shown only once it holds one (an empty one would draw the browser's broken-image icon)."""
    return Image(value=png, width=width)
