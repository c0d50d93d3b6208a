"""Text and pictures for the page: every text that reaches it is escaped (class labels, module
names, exception messages and paths are data, never markup)."""

from __future__ import annotations

import html

import ipywidgets

__all__ = ["text_html", "image_widget"]


def text_html(text: str, css_class: str = "", pre: bool = False) -> str:
    """``text`` as HTML that shows it literally (escaped), in a ``span`` (or ``pre``) with ``css_class``."""
    tag = "pre" if pre else "span"
    attribute = f" class='{html.escape(css_class, quote=True)}'" if css_class else ""
    return f"<{tag}{attribute}>{html.escape(str(text), quote=True)}</{tag}>"


def image_widget(png: bytes = b"", width: str = "224px") -> ipywidgets.Image:
    """A PNG image shown only once it holds a picture (an empty one draws the browser's broken-image icon)."""
    image = ipywidgets.Image(value=png, format="png", layout=ipywidgets.Layout(width=width, display="" if png else "none"))
    image.observe(lambda change: setattr(image.layout, "display", "" if change["new"] else "none"), names="value")
    return image
