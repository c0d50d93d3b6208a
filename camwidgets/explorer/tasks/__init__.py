"""The explorer's tasks, one module each, found through :data:`TASKS`.

A new task is one module with a :class:`~.base.Task` subclass plus one line in :data:`TASKS`; the
order of :data:`TASKS` is the order in which tasks are tried when the task is read from the
output (``task=None``) and when an output selector is proposed for raw outputs.
"""

from __future__ import annotations

from typing import Any

from .base import DEFAULT, Task, TaskContext, check_region
from .classification import ClassificationTask
from .detection import DEFAULT_SCORE_THRESHOLD, DetectionTask
from .embedding import EmbeddingTask
from .multilabel import MultilabelTask
from .segmentation import SegmentationTask
from .text_prompt import TextPromptTask

__all__ = [
    "TASKS",
    "register_task",
    "infer_task",
    "build_task",
    "Task",
    "TaskContext",
    "DEFAULT",
    "DEFAULT_SCORE_THRESHOLD",
    "check_region",
]

TASKS: dict[str, type[Task]] = {}


def register_task(task: type[Task]) -> type[Task]:
    """Add ``task`` to :data:`TASKS` under its ``name`` (a name already taken is a ValueError)."""
    if not task.name or task.name in TASKS:
        raise ValueError(f"a task needs a name of its own; {task.name!r} is {'empty' if not task.name else 'taken'}")
    TASKS[task.name] = task
    return task


for _task in (DetectionTask, SegmentationTask, ClassificationTask, MultilabelTask, EmbeddingTask, TextPromptTask):
    register_task(_task)


def infer_task(outputs: Any, images: int, task: str | None = None) -> str:
    """The task of a model whose forward on ``images`` images gave ``outputs`` (after the output
    selector): given (then checked against the outputs) or the first inferable task in
    :data:`TASKS` whose form they have."""
    if task is not None and task not in TASKS:
        raise ValueError(
            f"task must be one of {', '.join(TASKS)} (or None to infer it from the model's output); got {task!r}"
        )
    found = next((name for name, kind in TASKS.items() if kind.inferred and kind.fits(outputs, images)), None)
    if task is not None and TASKS[task].fits(outputs, images):
        return task
    if found is None:
        shape = tuple(outputs.shape) if hasattr(outputs, "shape") else type(outputs).__name__
        raise ValueError(
            f"the explorer cannot tell what the model does from its output ({shape}): it explains (B, classes) scores, "
            "(B, D) embeddings with task='embedding', (B, C, H, W) segmentation scores or a dict with 'out', "
            "torchvision-style detections (a list of dicts with boxes, labels, scores) and YOLO, RT-DETR and DETR outputs; "
            "pass output_selector to pick one of those from a tuple or dict"
        )
    if task is not None:
        raise ValueError(
            f"task={task!r} does not fit the model's output, which looks like {found}; pass task={found!r} or task=None"
        )
    return found


def build_task(name: str, outputs: Any, context: TaskContext) -> Task:
    """The task object for ``name`` over the no-grad ``outputs``, with its class names."""
    kind = TASKS[name]
    return kind.build(outputs, kind.class_names(outputs, context), context)
