"""The explorer's tasks: what it explains, decided by one task object per model.

A task is one module in this package plus one line in its registry (:data:`~camwidgets.explorer.tasks.TASKS`).
A :class:`Task` class says when it applies and how it is made; an instance turns one no-grad
forward's outputs into what a person can pick and what the engine needs. The engine stays
task-free: a target is a callable on one image's output. Every value that can come from the
browser (a box index, a rectangle, a concept image) is checked by :meth:`Task.check`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from ...core.image_sets import default_labels
from ...core.text import format_probability
from ...engine import ClassifierOutputTarget
from ...widgets.messages import is_finite_number
from ..state import ViewState

__all__ = ["Task", "TaskContext", "DEFAULT", "check_region", "outlines"]

#: The target control's first entry, "each image's default" (top class, every box, largest region).
DEFAULT = -1


@dataclass(frozen=True)
class TaskContext:
    """What a task is built from besides the outputs: the model, the labels and preprocessing the
    user gave, the image names and size (H, W), the detection threshold, the output selector, the
    batch, and ``embed`` (batch -> (n, D) embeddings, no gradients)."""

    model: nn.Module
    labels: Any
    preprocess: Any
    names: list[str]
    image_size: tuple[int, int]
    threshold: float
    selector: Any
    batch: torch.Tensor
    embed: Any
    image_text: Any = None  # an ImageTextModel (the text prompt task)
    prompts: tuple[str, ...] = ()  # its phrases so far


def check_region(value: Any, width: int, height: int) -> tuple[int, int, int, int] | None:
    """A rectangle ``(x1, y1, x2, y2)`` of whole pixels with ``0 <= x1 < x2 <= width`` and
    ``0 <= y1 < y2 <= height``, at least 2 pixels each way (None clears it); else ValueError."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise ValueError(
            f"region must be four numbers (x1, y1, x2, y2) in image pixels, or None; got {str(value)[:80]}"
        )
    numbers = []
    for v in value:
        if not is_finite_number(v):
            raise ValueError(f"region must be four finite numbers (x1, y1, x2, y2); got {str(value)[:80]}")
        numbers.append(int(round(float(v))))
    x1, y1, x2, y2 = numbers
    if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        raise ValueError(
            f"region {tuple(numbers)} must lie inside the {width} x {height} image with x1 < x2 and y1 < y2"
        )
    if x2 - x1 < 2 or y2 - y1 < 2:
        raise ValueError(f"region {tuple(numbers)} is smaller than 2 x 2 pixels; drag a larger rectangle")
    return x1, y1, x2, y2


def outlines(mask: np.ndarray, scale_x: float, scale_y: float) -> list[list[float]]:
    """The outer contours of a boolean mask as flat ``[x0, y0, x1, y1, ...]`` lists in image pixels
    (pixel corners: a mask pixel (i, j) spans x in [j, j + 1])."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    shapes = []
    for contour in contours:
        points = contour.reshape(-1, 2).astype(np.float64) + 0.5
        shapes.append([round(float(v), 1) for xy in points for v in (xy[0] * scale_x, xy[1] * scale_y)])
    return shapes


class Task:
    """The explorer's view of one task. A task class says when it applies (:meth:`fits`, and
    whether that can be read from the output alone: ``inferred``), which output selector it proposes
    for raw outputs (:meth:`selector`), its labels and how it is built (:meth:`build`); an instance
    turns the no-grad outputs into what a person can pick (the target control, captions, what a
    click or a dragged rectangle means, what is drawn) and into the engine's targets.

    ``labels``: class names (empty for embeddings). Target control values are ints: :data:`DEFAULT`,
    a class index, or ``count + k`` for the k-th extra entry a task lists (a box, a concept). The
    defaults here are a classifier's: one class per target, chosen from the ranked scores."""

    name = ""
    inferred = True  # read from the output's form when task=None (False: asked for by name)
    resets_on_image: tuple[str, ...] = ()  # view fields tied to the image shown, cleared when another image is chosen
    uses = ("target",)  # view fields this task reads (others must stay None)
    shows_class_search = True  # the class search box (not for embeddings: concepts are images)
    shows_prompt_box = False  # a box to type a phrase in (text prompts)
    per_label_maps = False  # a row of thumbnails, one map per present label (multi-label)
    target_noun = "class"  # what a target index counts
    label_maps_title = "One map per label (sigmoid >= 0.5; click to choose)"
    threshold: float | None = None  # a score below which nothing is shown: the explorer offers a slider (detection)

    def with_threshold(self, threshold: float) -> Task:
        """This task on the same outputs with another score threshold (tasks with a ``threshold``)."""
        raise TypeError(f"the {self.name} task has no score threshold")

    # -- the plug-in: when the task applies and how it is made ------------------------------------
    @classmethod
    def fits(cls, outputs: Any, images: int) -> bool:
        """Whether the (selected) ``outputs`` of ``images`` images have this task's form."""
        return False

    @classmethod
    def selector(cls, raw: Any, context: TaskContext) -> Any:
        """An output selector for the model's ``raw`` outputs when none is given (None: none needed)."""
        return None

    @classmethod
    def class_names(cls, outputs: Any, context: TaskContext) -> list[str]:
        """One name per class score (``context.labels`` given, the model's own, or indices)."""
        scores = outputs["out"] if isinstance(outputs, Mapping) else outputs
        return default_labels(context.model, context.labels, context.preprocess, int(scores.shape[1]))

    @classmethod
    def build(cls, outputs: Any, labels: list[str], context: TaskContext) -> Task:
        raise NotImplementedError

    def start_state(self) -> ViewState:
        """The view the explorer opens with (before its layers are known)."""
        return ViewState()

    def region_changes(self, box: tuple | None, state: ViewState) -> dict[str, Any]:
        """The view changes a rectangle dragged on the image shown in ``state`` stands for."""
        return {"region": box}

    def __init__(self, scores: torch.Tensor, labels: list[str], names: list[str]) -> None:  # (B, classes) scores
        self.labels = labels
        self.names = names
        self.scores = scores.float().cpu().numpy()

    # -- what is listed -------------------------------------------------------------------------------
    def ranked(self, image: int, k: int = 5) -> list[tuple[int, str, float]]:
        """``[(class index, name, score)]`` of one image, highest first."""
        row = self.scores[image]
        order = np.argsort(-row, kind="stable")[:k]
        return [(int(c), self.labels[int(c)], float(row[c])) for c in order]

    def caption(self, image: int, state: ViewState) -> str:
        """The gallery's caption of ``image`` under ``state``."""
        top = self.ranked(image, 1)
        return f"{self.names[image]}: {top[0][1]}" if top else self.names[image]

    def default_text(self) -> str:
        return "top class of each image"

    def target_options(self, state: ViewState) -> list[tuple[str, int]]:
        """The target control's entries for ``state``'s image: the default, the top classes with
        scores, and the chosen class when it is none of those."""
        top = self.ranked(state.image)
        options = [(self.default_text(), DEFAULT)] + [
            (f"{name} ({format_probability(p)})", index) for index, name, p in top
        ]
        if state.target is not None and state.target not in [index for index, _, _ in top]:
            options.append((f"{self.labels[state.target]} (chosen)", state.target))
        return options

    def option_value(self, state: ViewState) -> int:
        return DEFAULT if state.target is None else state.target

    def option_changes(self, value: int) -> dict[str, Any]:
        """The view changes a target control value stands for."""
        return {"target": None if value == DEFAULT else int(value)}

    def target_label(self, state: ViewState) -> str:
        if state.target is not None:
            return self.labels[state.target]
        top = self.ranked(state.image, 1)
        return f"{top[0][1]} (top class)" if top else "top class"

    # -- checks and targets -----------------------------------------------------------------------
    def check(self, state: ViewState, width: int, height: int) -> ViewState:
        """``state`` if its task fields fit this task and image, else ValueError."""
        for field in ("box", "region", "concept"):
            if getattr(state, field) is not None and field not in self.uses:
                raise ValueError(f"{field} is for other tasks; this explorer explains {self.name}")
        return state

    def label_target(self, index: int) -> Any:
        """The target of class ``index`` alone (the side-by-side maps of :attr:`per_label_maps`)."""
        return ClassifierOutputTarget(index)

    def targets(self, state: ViewState, images: Sequence[int]) -> list | None:
        """One target per image index of ``images`` (None: each image's top class, the engine's default)."""
        return None if state.target is None else [ClassifierOutputTarget(state.target)] * len(images)

    def annotations(self, state: ViewState) -> dict[str, Any]:
        """What the overlay draws over the image shown: ``boxes`` (clickable), ``outlines``
        (polygons as flat x, y lists), ``region`` (a rectangle) and ``draw`` ('' or 'region': a drag
        on the image then proposes a rectangle)."""
        return {"boxes": [], "outlines": [], "region": None, "draw": ""}
