"""Segmentation: ``(B, C, H, W)`` scores (or torchvision's ``{"out": ...}``); the target is a class's
predicted region (``SemanticSegmentationTarget``), optionally restricted to a rectangle dragged on the
image shown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ...engine import SemanticSegmentationTarget
from ..state import ViewState
from .base import DEFAULT, Task, TaskContext, outlines

__all__ = ["SegmentationTask"]

_BACKGROUND_NAMES = ("__background__", "background")


class SegmentationTask(Task):
    """Per-pixel classes ``argmax_c y[c]``; a target is a class's predicted region (restricted to a
    rectangle on the image shown) and its score is the sum of that class's scores over the region."""

    name = "segmentation"
    resets_on_image = ("region",)
    uses = ("target", "region")

    @classmethod
    def fits(cls, outputs: Any, images: int) -> bool:
        scores = outputs["out"] if isinstance(outputs, Mapping) and "out" in outputs else outputs
        return isinstance(scores, torch.Tensor) and scores.ndim == 4 and scores.shape[0] == images

    @classmethod
    def selector(cls, raw: Any, context: TaskContext) -> Any:
        """torchvision's segmenters return ``{"out": scores, "aux": ...}``: the scores."""
        return (
            "out"
            if isinstance(raw, Mapping) and isinstance(raw.get("out"), torch.Tensor) and raw["out"].ndim == 4
            else None
        )

    @classmethod
    def build(cls, outputs: Any, labels: list[str], context: TaskContext) -> Task:
        scores = outputs["out"] if isinstance(outputs, Mapping) else outputs
        return cls(scores, labels, context.names, context.image_size)

    def __init__(self, scores: torch.Tensor, labels: list[str], names: list[str], image_size: tuple[int, int]) -> None:
        self.labels, self.names = labels, names
        self.predicted = scores.argmax(1).cpu().numpy().astype(np.int32)  # (B, h, w) at the output's resolution
        self.height, self.width = image_size
        h, w = self.predicted.shape[1:]
        self.scale_x, self.scale_y = self.width / w, self.height / h
        self.background = 0 if labels and labels[0].lower() in _BACKGROUND_NAMES else None
        self.shares = np.stack(
            [np.bincount(p.ravel(), minlength=len(labels))[: len(labels)] / p.size for p in self.predicted]
        )
        self._masks: dict[tuple, SemanticSegmentationTarget] = {}

    def ranked(self, image: int, k: int = 5) -> list[tuple[int, str, float]]:
        """The classes predicted in ``image`` with their share of its pixels, largest first."""
        row = self.shares[image]
        order = [int(c) for c in np.argsort(-row, kind="stable") if row[c] > 0][:k]
        return [(c, self.labels[c], float(row[c])) for c in order]

    def default_class(self, image: int) -> int:
        """The class with the most predicted pixels in ``image``, background aside when anything else is there."""
        ranked = [c for c, _, _ in self.ranked(image, len(self.labels))]
        others = [c for c in ranked if c != self.background]
        return (others or ranked)[0]

    def caption(self, image: int, state: ViewState) -> str:
        present = [name for c, name, _ in self.ranked(image, 3) if c != self.background]
        return f"{self.names[image]}: {', '.join(present) or 'background'}"

    def default_text(self) -> str:
        return "largest class of each image"

    def target_options(self, state: ViewState) -> list[tuple[str, int]]:
        present = self.ranked(state.image, len(self.labels))
        options = [(self.default_text(), DEFAULT)] + [
            (f"{name} ({share:.1%} of the pixels)", c) for c, name, share in present
        ]
        if state.target is not None and state.target not in [c for c, _, _ in present]:
            options.append((f"{self.labels[state.target]} (chosen; not predicted here)", state.target))
        return options

    def option_changes(self, value: int) -> dict[str, Any]:
        return {"target": None if value == DEFAULT else int(value), "region": None}

    def category(self, state: ViewState, image: int) -> int:
        return self.default_class(image) if state.target is None else state.target

    def class_mask(self, state: ViewState, image: int) -> np.ndarray:
        """Where ``image`` is predicted as the target class, at the output's resolution."""
        return self.predicted[image] == self.category(state, image)

    def region_mask(self, state: ViewState, image: int) -> np.ndarray:
        """:meth:`class_mask` inside the rectangle (on the image shown)."""
        mask = self.class_mask(state, image)
        if state.region is not None and image == state.image:
            x1, y1, x2, y2 = state.region
            inside = np.zeros_like(mask)
            inside[
                int(y1 / self.scale_y) : int(np.ceil(y2 / self.scale_y)),
                int(x1 / self.scale_x) : int(np.ceil(x2 / self.scale_x)),
            ] = True
            mask &= inside
        return mask

    def target_label(self, state: ViewState) -> str:
        c = self.category(state, state.image)
        share = self.region_mask(state, state.image).mean()
        where = " in the rectangle" if state.region is not None else ""
        chosen = "" if state.target is not None else ", largest class"
        return f"{self.labels[c]} ({share:.1%} of the pixels{where}{chosen})"

    def check(self, state: ViewState, width: int, height: int) -> Any:
        super().check(state, width, height)
        if state.region is not None and not self.region_mask(state, state.image).any():
            c = self.category(state, state.image)
            raise ValueError(
                f"the rectangle {state.region} holds no pixel predicted as {self.labels[c]}; drag it over the outlined region"
            )
        return state

    def targets(self, state: ViewState, images: Sequence[int]) -> list:
        chosen = []
        for image in images:
            c = self.category(state, image)
            key = (image, c, state.region if image == state.image else None)
            if key not in self._masks:  # kept: the capture cache knows a mask by its object
                self._masks[key] = SemanticSegmentationTarget(
                    c, torch.from_numpy(self.region_mask(state, image).astype(np.float32))
                )
            chosen.append(self._masks[key])
        return chosen

    def annotations(self, state: ViewState) -> dict[str, Any]:
        outline = outlines(self.class_mask(state, state.image), self.scale_x, self.scale_y)
        return {
            "boxes": [],
            "outlines": outline,
            "region": list(state.region) if state.region else None,
            "draw": "region",
        }
