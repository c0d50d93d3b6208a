"""Classification: ``(B, classes)`` scores, softmax; the target is a class (None: each image's top class)."""

from __future__ import annotations

from typing import Any

import torch

from .base import Task, TaskContext

__all__ = ["ClassificationTask"]


class ClassificationTask(Task):
    """Single-label classes: ``softmax(scores)``; the defaults of :class:`Task`."""

    name = "classification"

    @classmethod
    def fits(cls, outputs: Any, images: int) -> bool:
        return isinstance(outputs, torch.Tensor) and outputs.ndim == 2 and outputs.shape[0] == images

    @classmethod
    def build(cls, outputs: Any, labels: list[str], context: TaskContext) -> Task:
        return cls(torch.softmax(outputs.float(), dim=1), labels, context.names)
