"""The standard ipywidgets controls of the explorer and their option lists.

Descriptions are fixed ("Method", "Target", "Normalise", "aug_smooth", "eigen_smooth"): browser
tests and users find the controls by them.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import ipywidgets

from ..engine.methods.registry import FAMILIES, METHODS
from ..explain import format_probability
from .session import Estimate

__all__ = ["Controls", "method_options", "duration_text", "target_options", "class_choice", "TOP_CLASS"]

TOP_CLASS = -1
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


def method_options(estimates: Mapping[str, Estimate] | None = None) -> list[tuple[str, str]]:
    """Every registered method as (label, registry name), grouped gradient / gradient-free /
    perturbation; slow ones (more than two forwards per image) marked, and with ``estimates`` each
    label says its price: 'ScoreCAM — perturbation · slow · 5 124 passes ≈ 95 s'."""
    options = []
    for family in FAMILIES:
        for spec in METHODS.values():
            if spec.family == family:
                slow = " · slow" if spec.slow else ""
                cost = ""
                if estimates is not None and spec.name in estimates:
                    estimate = estimates[spec.name]
                    cost = f" · {estimate.passes:,} pass{'es' if estimate.passes != 1 else ''} ≈ {duration_text(estimate.seconds)}".replace(",", " ")
                options.append((f"{spec.class_name} — {family}{slow}{cost}", spec.name))
    return options


def target_options(top: list[tuple[int, str, float]], current: int | None, labels: list[str]) -> list[tuple[str, int]]:
    """'Top class of each image', the current image's top classes with probabilities, and the
    current target when it is none of those."""
    options = [("top class of each image", TOP_CLASS)]
    options += [(f"{name} ({format_probability(p)})", index) for index, name, p in top]
    if current is not None and current not in [index for index, _, _ in top]:
        options.append((f"{labels[current]} (chosen)", current))
    return options


def class_choice(text: str, labels: list[str]) -> int | None:
    """The class index of a 'name (index)' entry of the class search box, if it is a real one."""
    match = _CHOICE.search(text or "")
    if match is None:
        return None
    index = int(match.group(1))
    return index if index < len(labels) and text == f"{labels[index]} ({index})" else None


class Controls:
    """Method, target, class search, normalisation and smoothing controls."""

    def __init__(self, labels: list[str]) -> None:
        style: dict[str, Any] = {"description_width": "initial"}
        self.method = ipywidgets.Dropdown(description="Method", options=method_options(), style=style)
        self.target = ipywidgets.Dropdown(description="Target", options=[("top class of each image", TOP_CLASS)], style=style)
        self.find_class = ipywidgets.Combobox(
            description="Find class",
            placeholder="type a class name, Enter",
            options=tuple(f"{name} ({index})" for index, name in enumerate(labels)),
            ensure_option=False,
            continuous_update=False,  # a typed name counts on Enter (or leaving the box), a suggestion when picked
            style=style,
        )
        self.find_note = ipywidgets.HTML(layout=ipywidgets.Layout(margin="0 0 0 8px"))
        self.normalise = ipywidgets.Dropdown(
            description="Normalise", options=[("per image", "image"), ("per batch", "batch"), ("none (raw)", "none")], style=style
        )
        self.aug_smooth = ipywidgets.Checkbox(description="aug_smooth", indent=False)
        self.eigen_smooth = ipywidgets.Checkbox(description="eigen_smooth", indent=False)
        self.box = ipywidgets.VBox(
            [self.method, ipywidgets.HBox([self.target, self.find_class, self.find_note]), self.normalise, ipywidgets.HBox([self.aug_smooth, self.eigen_smooth])]
        )
