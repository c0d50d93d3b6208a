"""Multi-label classification: ``(B, classes)`` scores, a sigmoid per class; the target is one label
(each label has its own map). Asked for with ``task="multilabel"``."""

from __future__ import annotations

from typing import Any

import torch

from ..state import ViewState
from .base import DEFAULT, Task, TaskContext
from .classification import ClassificationTask

__all__ = ["MultilabelTask"]


class MultilabelTask(ClassificationTask):
    """Independent labels: ``sigmoid(score)`` per class; every label at or above 0.5 is present."""

    name = "multilabel"
    inferred = False  # (B, classes) reads as a classifier: asked for by name
    per_label_maps = True

    @classmethod
    def build(cls, outputs: Any, labels: list[str], context: TaskContext) -> Task:
        return cls(outputs, labels, context.names)

    def __init__(self, scores: torch.Tensor, labels: list[str], names: list[str]) -> None:
        super().__init__(torch.sigmoid(scores.float()), labels, names)

    def present(self, image: int, threshold: float = 0.5, least: int = 1) -> list[tuple[int, str, float]]:
        """The labels at or above ``threshold`` (at least ``least`` of the highest)."""
        ranked = self.ranked(image, len(self.labels))
        return [row for n, row in enumerate(ranked) if row[2] >= threshold or n < least]

    def caption(self, image: int, state: ViewState) -> str:
        return f"{self.names[image]}: " + ", ".join(name for _, name, _ in self.present(image)[:3])

    def default_text(self) -> str:
        return "top label of each image"

    def target_options(self, state: ViewState) -> list[tuple[str, int]]:
        options = [(self.default_text(), DEFAULT)]
        options += [
            (f"{name} ({p:.2f}{' ✓' if p >= 0.5 else ''})", index) for index, name, p in self.ranked(state.image, 10)
        ]
        if state.target is not None and state.target not in [v for _, v in options]:
            options.append((f"{self.labels[state.target]} (chosen)", state.target))
        return options

    def target_label(self, state: ViewState) -> str:
        index = state.target if state.target is not None else self.ranked(state.image, 1)[0][0]
        suffix = "" if state.target is not None else ", top label"
        return f"{self.labels[index]} (sigmoid {self.scores[state.image, index]:.2f}{suffix})"
