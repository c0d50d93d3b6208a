"""The explorer's main controls (fields of the one widget) and their option lists.

Descriptions are fixed ("Method", "Target", "Normalise", "aug_smooth", "eigen_smooth"): browser
tests and users find the controls by them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..engine import FAMILIES, METHODS
from .fields import HTML, Checkbox, Combobox, Dropdown, FloatSlider, Text
from .parts import Column, Row

__all__ = ["Controls", "method_options", "duration_text", "class_choice"]

_CHOICE = re.compile(r"\((\d+)\)$")


def duration_text(seconds: float) -> str:
    """'<1 s', '12 s', '4 min', '2.5 h': a duration as people read an estimate."""
    if seconds < 1:
        return "<1 s"
    if seconds < 100:
        return f"{seconds:.0f} s"
    if seconds < 6000:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def method_options(
    estimates: Mapping[str, Any] | None = None, names: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """Every registered method (``names``: those only) as (label, registry name), grouped by family
    (gradient, gradient-free, perturbation, attention); slow ones (more than two forwards per image) marked,
    and with ``estimates`` each label says its price: 'ScoreCAM — perturbation · slow · 5 124 passes ≈ 95 s'."""
    options = []
    for family in FAMILIES:
        for spec in METHODS.values():
            if spec.family == family and (names is None or spec.name in names):
                slow = " · slow" if spec.slow else ""
                cost = ""
                if estimates is not None and spec.name in estimates:
                    estimate = estimates[spec.name]
                    cost = f" · {estimate.passes:,} pass{'es' if estimate.passes != 1 else ''} ≈ {duration_text(estimate.seconds)}".replace(
                        ",", " "
                    )
                options.append((f"{spec.class_name} — {family}{slow}{cost}", spec.name))
    return options


def class_choice(text: str, labels: list[str]) -> int | None:
    """The class index of a 'name (index)' entry of the class search box, if it is a real one."""
    match = _CHOICE.search(text or "")
    if match is None:
        return None
    index = int(match.group(1))
    return index if index < len(labels) and text == f"{labels[index]} ({index})" else None


def class_search_options(labels: Sequence[str]) -> tuple[str, ...]:
    """The class search's suggestions: 'name (index)' for each label."""
    return tuple(f"{name} ({index})" for index, name in enumerate(labels))


class Controls:
    """Method, target, class search (with its note), normalisation and smoothing controls; ``box`` holds them."""

    def __init__(self, labels: list[str], methods: Sequence[str] | None = None) -> None:
        # wide enough for a label with its price ("SSCAM — perturbation · slow · 359 212 passes ≈ 2.1 h")
        self.method = Dropdown(description="Method", options=method_options(names=methods), css="cw-wide")
        self.target = Dropdown(description="Target", options=[("top class of each image", -1)])
        # a typed name counts on Enter (or leaving the box), a suggestion when picked
        self.find_class = Combobox(
            description="Find class", placeholder="type a class name, Enter", options=list(class_search_options(labels))
        )
        # image–text models: a phrase typed and Enter explains it (and joins the target menu)
        self.phrase = Text(description="Phrase", placeholder="type a phrase, Enter", visible=False)
        self.find_note = HTML(visible=False)  # a line of its own, when there is something to say
        self.normalise = Dropdown(
            description="Normalise", options=[("per image", "image"), ("per batch", "batch"), ("none (raw)", "none")]
        )
        self.aug_smooth = Checkbox(description="aug_smooth")
        self.eigen_smooth = Checkbox(description="eigen_smooth")
        # shown for tasks with scores to threshold (detection): boxes below it are neither drawn nor explained
        self.threshold = FloatSlider(description="Score threshold", min=0.01, max=1.0, step=0.01, visible=False)
        self.box = Column(
            [
                self.method,
                Row([self.target, self.find_class, self.phrase]),
                self.find_note,
                Row([self.normalise, self.aug_smooth, self.eigen_smooth]),
                self.threshold,
            ],
            css="cw-controls",
        )

    def find_says(self, html: str) -> None:
        """The class search's answer (escaped HTML) on its own line below it; '' hides the line."""
        self.find_note.value = html
        self.find_note.visible = bool(html)
