"""Detection: a list of dicts with ``boxes``/``labels``/``scores`` (torchvision's detectors, and the
YOLO, RT-DETR and DETR outputs :mod:`camwidgets.engine.detections` reads as such); the target is one
detected box of the image shown, every box of a class, or every box."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...core.image_sets import default_labels, known_weights
from ...engine import AnchorScoreTarget, EachOf, FasterRCNNBoxScoreTarget, detection_reader, is_detection_list
from ..state import ViewState
from .base import DEFAULT, Task, TaskContext, outlines

__all__ = ["DetectionTask", "DEFAULT_SCORE_THRESHOLD"]

#: Detections below this score are neither drawn nor explained (the explorer's ``score_threshold``).
DEFAULT_SCORE_THRESHOLD = 0.5


class DetectionTask(Task):
    """Detections at or above ``threshold``; a target is one box (IoU-matched box score), every box of
    a class, or every box of the image."""

    name = "detection"
    resets_on_image = ("box",)
    uses = ("target", "box")

    @classmethod
    def fits(cls, outputs: Any, images: int) -> bool:
        return (
            is_detection_list(outputs)
            and len(outputs) == images
            and all({"labels", "scores"} <= set(o) for o in outputs)
        )

    @classmethod
    def selector(cls, raw: Any, context: TaskContext) -> Any:
        """A reader for YOLO, RT-DETR and DETR outputs (torchvision's box dicts need none)."""
        return None if is_detection_list(raw) else detection_reader(raw, context.model, context.image_size)

    @classmethod
    def class_names(cls, outputs: Any, context: TaskContext) -> list[str]:
        """Enough names for every detected label: those the head declares (a reader knows its class
        count), those given, or the label indices."""
        seen = max((int(o["labels"].max()) + 1 for o in outputs if len(o["labels"])), default=1)
        declared = getattr(context.selector, "classes", None)
        if declared is not None and context.labels is None:
            return default_labels(context.model, None, context.preprocess, declared)
        weights = known_weights(context.model, context.labels, context.preprocess)
        if weights is None and context.labels is None:
            return [str(index) for index in range(seen)]
        count = (
            len(weights.meta["categories"])
            if weights is not None
            else len(context.labels)
            if isinstance(context.labels, Sequence)
            else 0
        )
        names = default_labels(context.model, context.labels, context.preprocess, count)
        if seen > len(names):
            raise ValueError(
                f"the detector gave label {seen - 1} but there are {len(names)} class names; pass one name per label index"
            )
        return names

    @classmethod
    def build(cls, outputs: Any, labels: list[str], context: TaskContext) -> Task:
        return cls(list(outputs), labels, context.names, context.threshold, context.image_size)

    def __init__(
        self, outputs: list[dict], labels: list[str], names: list[str], threshold: float, image_size: tuple[int, int]
    ) -> None:
        self.labels, self.names, self.threshold, self.image_size = labels, names, float(threshold), image_size
        self._outputs = outputs
        self.detections = []
        self.best_scores = [
            float(output["scores"].max()) if len(output["scores"]) else None for output in outputs
        ]  # kept or not
        for output in outputs:
            keep = (output["scores"].detach().float() >= self.threshold).cpu()
            found = {
                key: output[key].detach().cpu()[keep].numpy()
                for key in ("boxes", "labels", "scores", "anchors", "masks")
                if key in output
            }
            found["boxes"], found["scores"] = found["boxes"].astype(np.float32), found["scores"].astype(np.float32)
            found["labels"] = found["labels"].astype(np.int64)
            self.detections.append(found)
        self._targets: dict[tuple, Any] = {}

    def with_threshold(self, threshold: float) -> DetectionTask:
        return type(self)(self._outputs, self.labels, self.names, threshold, self.image_size)

    def ranked(self, image: int, k: int = 5) -> list[tuple[int, str, float]]:
        """The classes detected in ``image`` with their best score, highest first."""
        found = self.detections[image]
        best: dict[int, float] = {}
        for label, score in zip(found["labels"], found["scores"]):
            best[int(label)] = max(best.get(int(label), 0.0), float(score))
        order = sorted(best, key=lambda c: -best[c])[:k]
        return [(c, self.labels[c], best[c]) for c in order]

    def box_text(self, image: int, index: int) -> str:
        found = self.detections[image]
        return f"box {index}: {self.labels[int(found['labels'][index])]} {found['scores'][index]:.2f}"

    def caption(self, image: int, state: ViewState) -> str:
        count = len(self.detections[image]["scores"])
        return f"{self.names[image]}: {count} box{'es' if count != 1 else ''}"

    def target_options(self, state: ViewState) -> list[tuple[str, int]]:
        found = self.detections[state.image]
        counts = {c: int((found["labels"] == c).sum()) for c, _, _ in self.ranked(state.image, len(self.labels))}
        options = [(f"every detection ({len(found['scores'])})", DEFAULT)]
        options += [(f"every {self.labels[c]} ({n})", c) for c, n in counts.items()]
        if state.target is not None and state.target not in counts:
            options.append((f"every {self.labels[state.target]} (chosen; none here)", state.target))
        options += [(self.box_text(state.image, d), len(self.labels) + d) for d in range(len(found["scores"]))]
        return options

    def option_value(self, state: ViewState) -> int:
        return len(self.labels) + state.box if state.box is not None else super().option_value(state)

    def option_changes(self, value: int) -> dict[str, Any]:
        if value >= len(self.labels):
            return {"box": int(value) - len(self.labels), "target": None}
        return {"target": None if value == DEFAULT else int(value), "box": None}

    def target_label(self, state: ViewState) -> str:
        if state.box is not None:
            return self.box_text(state.image, state.box)
        count = len(self._chosen(state, state.image)["scores"])
        what = f"every {self.labels[state.target]}" if state.target is not None else "every detection"
        if count == 0 and state.target is None:
            return f"{what} (none here: {self.no_box_reason(state.image)})"
        return f"{what} ({count} box{'es' if count != 1 else ''} here)"

    def no_box_reason(self, image: int) -> str:
        """Why ``image`` shows no box, and what to try: a lower threshold, when some box scored lower."""
        best = self.best_scores[image]
        if best is None:
            return "the detector found no box at all in this image"
        return f"no box scores at least {self.threshold:g}, the best scores {best:.3g}; pass score_threshold={best * 0.9:.2g} to see it"

    def check(self, state: ViewState, width: int, height: int) -> Any:
        super().check(state, width, height)
        count = len(self.detections[state.image]["scores"])
        if state.box is not None and not 0 <= state.box < count:
            raise ValueError(
                f"box must be the index of one of the {count} detections (score >= {self.threshold:g}) of the image shown; got {state.box}"
            )
        return state

    def _explained(self, state: ViewState, image: int) -> np.ndarray:
        """Which detections of ``image`` ``state`` explains, a bool per detection."""
        found = self.detections[image]
        if state.box is not None and image == state.image:
            return np.arange(len(found["scores"])) == state.box
        if state.target is not None:
            return found["labels"] == state.target
        return np.ones(len(found["scores"]), bool)

    def _chosen(self, state: ViewState, image: int) -> dict[str, np.ndarray]:
        """The detections of ``image`` that ``state`` explains."""
        keep = self._explained(state, image)
        return {key: value[keep] for key, value in self.detections[image].items()}

    def targets(self, state: ViewState, images: Sequence[int]) -> list:
        """One box's target, or for several boxes :class:`EachOf` their targets: each box's map
        normalised, combined by maximum, so a box with a saturated score (1.00) shows too."""
        chosen = []
        for image in images:
            found = self._chosen(state, image)
            anchors = found.get("anchors", [None] * len(found["labels"]))
            boxes = [
                self._box_target(int(label), box, anchor)
                for label, box, anchor in zip(found["labels"], found["boxes"], anchors)
            ]
            chosen.append(boxes[0] if len(boxes) == 1 else EachOf(boxes))
        return chosen

    def _box_target(self, label: int, box: np.ndarray, anchor: Any) -> Any:
        """The class score at the box's own anchor or query where the reader knows it (YOLO, DETR),
        else the best-matching box's IoU plus score (torchvision); one object per box, so that the
        capture cache knows it again."""
        key = (label, box.tobytes(), anchor)
        if key not in self._targets:
            self._targets[key] = (AnchorScoreTarget(int(anchor), label) if anchor is not None
                                  else FasterRCNNBoxScoreTarget(labels=[label], bounding_boxes=box[None]))  # fmt: skip
        return self._targets[key]

    def annotations(self, state: ViewState) -> dict[str, Any]:
        found, explained = self.detections[state.image], self._explained(state, state.image)
        boxes = [
            {
                "index": d,
                "box": [round(float(v), 1) for v in box],
                "label": self.box_text(state.image, d).split(": ", 1)[1],
                "chosen": bool(explained[d]),
            }
            for d, box in enumerate(found["boxes"])
        ]
        shapes: list[list[float]] = []
        if (
            "masks" in found
        ):  # instance masks (Mask R-CNN (n, 1, H, W), YOLO-seg (n, h, w)): the explained boxes' outlines
            height, width = self.image_size
            for mask in found["masks"][explained]:
                mask = mask.reshape(mask.shape[-2:]) >= 0.5
                shapes += outlines(mask, width / mask.shape[1], height / mask.shape[0])
        return {"boxes": boxes, "outlines": shapes, "region": None, "draw": ""}
