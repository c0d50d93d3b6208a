"""Text for people: numbers as they are shown, and text for the page, always escaped (class labels,
module names, exception messages and paths are data, never markup)."""

from __future__ import annotations

import html

__all__ = ["text_html", "format_probability"]


def text_html(text: str, css_class: str = "", pre: bool = False) -> str:
    """``text`` as HTML that shows it literally (escaped), in a ``span`` (or ``pre``) with ``css_class``."""
    tag = "pre" if pre else "span"
    attribute = f" class='{html.escape(css_class, quote=True)}'" if css_class else ""
    return f"<{tag}{attribute}>{html.escape(str(text), quote=True)}</{tag}>"


def format_probability(probability: float) -> str:
    """``"79.5%"``, or ``"<0.1%"`` for probabilities that would round to zero."""
    return f"{probability:.1%}" if probability >= 0.0005 else "<0.1%"
