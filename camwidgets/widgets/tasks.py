"""What the explorer explains, task by task.

One no-grad forward gives the model's outputs; :func:`infer_task` names the task from their form,
and the task object turns them into what a person can pick and what the engine needs:

- ``classification``: ``(B, classes)`` scores, softmax; the target is a class (None: each image's top class).
- ``multilabel``: ``(B, classes)`` scores, a sigmoid per class; the target is one label (each label has its own map).
- ``detection``: a list of dicts with ``boxes``/``labels``/``scores`` (torchvision detectors); the target is one
  detected box of the image shown, every box of a class, or every box (``FasterRCNNBoxScoreTarget``).
- ``segmentation``: ``(B, C, H, W)`` scores or a dict with ``"out"``; the target is a class's predicted region
  (``SemanticSegmentationTarget``), optionally restricted to a rectangle dragged on the image shown.
- ``embedding``: ``(B, D)`` embeddings; the target is a concept, another image's embedding or that of a box
  dragged on an image (``SimilarityToConceptTarget``), with the cosine similarity shown.

The engine stays task-free: a target is a callable on one image's output. Every value that can come from
the browser (a box index, a rectangle, a concept image) is checked here by :meth:`Task.check`.
"""

from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..engine.detections import AnchorScoreTarget
from ..engine.modules import is_detection_list
from ..engine.targets import ClassifierOutputTarget, EachOf, FasterRCNNBoxScoreTarget, SemanticSegmentationTarget, SimilarityToConceptTarget
from ..explain import format_probability
from .messages import is_finite_number

__all__ = ["TASKS", "infer_task", "build_task", "Task", "check_region", "DEFAULT_SCORE_THRESHOLD"]

TASKS = ("classification", "multilabel", "detection", "segmentation", "embedding")

#: Detections below this score are neither drawn nor explained (the explorer's ``score_threshold``).
DEFAULT_SCORE_THRESHOLD = 0.5

#: The target control's first entry, "each image's default" (top class, every box, largest region).
DEFAULT = -1

_BACKGROUND_NAMES = ("__background__", "background")


def infer_task(outputs: Any, images: int, task: str | None = None) -> str:
    """The task of a model whose forward on ``images`` images gave ``outputs`` (after the output
    selector): given (then checked against the outputs) or inferred from their form (see the module
    docstring; ``(B, D)`` is a classifier unless ``task="embedding"`` or ``"multilabel"``)."""
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)} (or None to infer it from the model's output); got {task!r}")
    if isinstance(outputs, dict) and "out" in outputs:
        outputs = outputs["out"]
    if is_detection_list(outputs) and len(outputs) == images and all({"labels", "scores"} <= set(o) for o in outputs):
        found = "detection"
    elif isinstance(outputs, torch.Tensor) and outputs.ndim == 4 and outputs.shape[0] == images:
        found = "segmentation"
    elif isinstance(outputs, torch.Tensor) and outputs.ndim == 2 and outputs.shape[0] == images:
        found = task if task in ("multilabel", "embedding") else "classification"
    else:
        shape = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs).__name__
        raise ValueError(
            f"the explorer cannot tell what the model does from its output ({shape}): it explains (B, classes) scores, "
            "(B, D) embeddings with task='embedding', (B, C, H, W) segmentation scores or a dict with 'out', and "
            "torchvision-style detections (a list of dicts with boxes, labels, scores); pass output_selector to pick one "
            "of those from a tuple or dict"
        )
    if task is not None and task != found:
        raise ValueError(f"task={task!r} does not fit the model's output, which looks like {found}; pass task={found!r} or task=None")
    return found


def check_region(value: Any, width: int, height: int) -> tuple[int, int, int, int] | None:
    """A rectangle ``(x1, y1, x2, y2)`` of whole pixels with ``0 <= x1 < x2 <= width`` and
    ``0 <= y1 < y2 <= height``, at least 2 pixels each way (None clears it); else ValueError."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise ValueError(f"region must be four numbers (x1, y1, x2, y2) in image pixels, or None; got {str(value)[:80]}")
    numbers = []
    for v in value:
        if not is_finite_number(v):
            raise ValueError(f"region must be four finite numbers (x1, y1, x2, y2); got {str(value)[:80]}")
        numbers.append(int(round(float(v))))
    x1, y1, x2, y2 = numbers
    if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        raise ValueError(f"region {tuple(numbers)} must lie inside the {width} x {height} image with x1 < x2 and y1 < y2")
    if x2 - x1 < 2 or y2 - y1 < 2:
        raise ValueError(f"region {tuple(numbers)} is smaller than 2 x 2 pixels; drag a larger rectangle")
    return x1, y1, x2, y2


class Task:
    """The explorer's view of one task; subclasses fill in the targets and what is drawn.

    ``labels``: class names (empty for embeddings). Target control values are ints: :data:`DEFAULT`,
    a class index, or ``count + k`` for the k-th extra entry a task lists (a box, a concept)."""

    name = "classification"
    resets_on_image: tuple[str, ...] = ()  # view fields tied to the image shown, cleared when another image is chosen
    uses = ("target",)  # view fields this task reads (others must stay None)

    def __init__(self, scores: torch.Tensor, labels: list[str], names: list[str]) -> None:
        self.labels = labels
        self.names = names
        self.scores = scores.float().cpu().numpy()

    # -- what is listed -------------------------------------------------------------------------------
    def ranked(self, image: int, k: int = 5) -> list[tuple[int, str, float]]:
        """``[(class index, name, score)]`` of one image, highest first."""
        row = self.scores[image]
        order = np.argsort(-row, kind="stable")[:k]
        return [(int(c), self.labels[int(c)], float(row[c])) for c in order]

    def caption(self, image: int, state: Any) -> str:
        """The gallery's caption of ``image`` under ``state``."""
        top = self.ranked(image, 1)
        return f"{self.names[image]}: {top[0][1]}" if top else self.names[image]

    def default_text(self) -> str:
        return "top class of each image"

    def target_options(self, state: Any) -> list[tuple[str, int]]:
        """The target control's entries for ``state``'s image: the default, the top classes with
        scores, and the chosen class when it is none of those."""
        top = self.ranked(state.image)
        options = [(self.default_text(), DEFAULT)] + [(f"{name} ({format_probability(p)})", index) for index, name, p in top]
        if state.target is not None and state.target not in [index for index, _, _ in top]:
            options.append((f"{self.labels[state.target]} (chosen)", state.target))
        return options

    def option_value(self, state: Any) -> int:
        return DEFAULT if state.target is None else state.target

    def option_changes(self, value: int) -> dict[str, Any]:
        """The view changes a target control value stands for."""
        return {"target": None if value == DEFAULT else int(value)}

    def target_label(self, state: Any) -> str:
        if state.target is not None:
            return self.labels[state.target]
        top = self.ranked(state.image, 1)
        return f"{top[0][1]} (top class)" if top else "top class"

    # -- checks and targets -----------------------------------------------------------------------
    def check(self, state: Any, width: int, height: int) -> Any:
        """``state`` if its task fields fit this task and image, else ValueError."""
        for field in ("box", "region", "concept"):
            if getattr(state, field) is not None and field not in self.uses:
                raise ValueError(f"{field} is for other tasks; this explorer explains {self.name}")
        return state

    def targets(self, state: Any, images: Sequence[int]) -> list | None:
        """One target per image index of ``images`` (None: each image's top class, the engine's default)."""
        return None if state.target is None else [ClassifierOutputTarget(state.target)] * len(images)

    def annotations(self, state: Any) -> dict[str, Any]:
        """What the overlay draws over the image shown: ``boxes`` (clickable), ``outlines``
        (polygons as flat x, y lists), ``region`` (a rectangle) and ``draw`` ('' or 'region': a drag
        on the image then proposes a rectangle)."""
        return {"boxes": [], "outlines": [], "region": None, "draw": ""}


class MultilabelTask(Task):
    """Independent labels: ``sigmoid(score)`` per class; every label at or above 0.5 is present."""

    name = "multilabel"

    def __init__(self, scores: torch.Tensor, labels: list[str], names: list[str]) -> None:
        super().__init__(torch.sigmoid(scores.float()), labels, names)

    def present(self, image: int, threshold: float = 0.5, least: int = 1) -> list[tuple[int, str, float]]:
        """The labels at or above ``threshold`` (at least ``least`` of the highest)."""
        ranked = self.ranked(image, len(self.labels))
        return [row for n, row in enumerate(ranked) if row[2] >= threshold or n < least]

    def caption(self, image: int, state: Any) -> str:
        return f"{self.names[image]}: " + ", ".join(name for _, name, _ in self.present(image)[:3])

    def default_text(self) -> str:
        return "top label of each image"

    def target_options(self, state: Any) -> list[tuple[str, int]]:
        options = [(self.default_text(), DEFAULT)]
        options += [(f"{name} ({p:.2f}{' ✓' if p >= 0.5 else ''})", index) for index, name, p in self.ranked(state.image, 10)]
        if state.target is not None and state.target not in [v for _, v in options]:
            options.append((f"{self.labels[state.target]} (chosen)", state.target))
        return options

    def target_label(self, state: Any) -> str:
        index = state.target if state.target is not None else self.ranked(state.image, 1)[0][0]
        suffix = "" if state.target is not None else ", top label"
        return f"{self.labels[index]} (sigmoid {self.scores[state.image, index]:.2f}{suffix})"


class DetectionTask(Task):
    """Detections at or above ``threshold``; a target is one box (IoU-matched box score), every box of
    a class, or every box of the image."""

    name = "detection"
    resets_on_image = ("box",)
    uses = ("target", "box")

    def __init__(self, outputs: list[dict], labels: list[str], names: list[str], threshold: float, image_size: tuple[int, int]) -> None:
        self.labels, self.names, self.threshold, self.image_size = labels, names, float(threshold), image_size
        self.detections = []
        self.best_scores = [float(output["scores"].max()) if len(output["scores"]) else None for output in outputs]  # kept or not
        for output in outputs:
            keep = (output["scores"].detach().float() >= self.threshold).cpu()
            found = {key: output[key].detach().cpu()[keep].numpy() for key in ("boxes", "labels", "scores", "anchors", "masks") if key in output}
            found["boxes"], found["scores"] = found["boxes"].astype(np.float32), found["scores"].astype(np.float32)
            found["labels"] = found["labels"].astype(np.int64)
            self.detections.append(found)
        self._targets: dict[tuple, Any] = {}

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

    def caption(self, image: int, state: Any) -> str:
        count = len(self.detections[image]["scores"])
        return f"{self.names[image]}: {count} box{'es' if count != 1 else ''}"

    def target_options(self, state: Any) -> list[tuple[str, int]]:
        found = self.detections[state.image]
        counts = {c: int((found["labels"] == c).sum()) for c, _, _ in self.ranked(state.image, len(self.labels))}
        options = [(f"every detection ({len(found['scores'])})", DEFAULT)]
        options += [(f"every {self.labels[c]} ({n})", c) for c, n in counts.items()]
        if state.target is not None and state.target not in counts:
            options.append((f"every {self.labels[state.target]} (chosen; none here)", state.target))
        options += [(self.box_text(state.image, d), len(self.labels) + d) for d in range(len(found["scores"]))]
        return options

    def option_value(self, state: Any) -> int:
        return len(self.labels) + state.box if state.box is not None else super().option_value(state)

    def option_changes(self, value: int) -> dict[str, Any]:
        if value >= len(self.labels):
            return {"box": int(value) - len(self.labels), "target": None}
        return {"target": None if value == DEFAULT else int(value), "box": None}

    def target_label(self, state: Any) -> str:
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

    def check(self, state: Any, width: int, height: int) -> Any:
        super().check(state, width, height)
        count = len(self.detections[state.image]["scores"])
        if state.box is not None and not 0 <= state.box < count:
            raise ValueError(f"box must be the index of one of the {count} detections (score >= {self.threshold:g}) of the image shown; got {state.box}")
        return state

    def _explained(self, state: Any, image: int) -> np.ndarray:
        """Which detections of ``image`` ``state`` explains, a bool per detection."""
        found = self.detections[image]
        if state.box is not None and image == state.image:
            return np.arange(len(found["scores"])) == state.box
        if state.target is not None:
            return found["labels"] == state.target
        return np.ones(len(found["scores"]), bool)

    def _chosen(self, state: Any, image: int) -> dict[str, np.ndarray]:
        """The detections of ``image`` that ``state`` explains."""
        keep = self._explained(state, image)
        return {key: value[keep] for key, value in self.detections[image].items()}

    def targets(self, state: Any, images: Sequence[int]) -> list:
        """One box's target, or for several boxes :class:`EachOf` their targets: each box's map
        normalised, combined by maximum, so a box with a saturated score (1.00) shows too."""
        chosen = []
        for image in images:
            found = self._chosen(state, image)
            anchors = found.get("anchors", [None] * len(found["labels"]))
            boxes = [self._box_target(int(label), box, anchor) for label, box, anchor in zip(found["labels"], found["boxes"], anchors)]
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

    def annotations(self, state: Any) -> dict[str, Any]:
        found, explained = self.detections[state.image], self._explained(state, state.image)
        boxes = [
            {"index": d, "box": [round(float(v), 1) for v in box], "label": self.box_text(state.image, d).split(": ", 1)[1],
             "chosen": bool(explained[d])}
            for d, box in enumerate(found["boxes"])
        ]
        outlines = []
        if "masks" in found:  # instance masks (Mask R-CNN (n, 1, H, W), YOLO-seg (n, h, w)): the explained boxes' outlines
            height, width = self.image_size
            for mask in found["masks"][explained]:
                mask = mask.reshape(mask.shape[-2:]) >= 0.5
                outlines += _outlines(mask, width / mask.shape[1], height / mask.shape[0])
        return {"boxes": boxes, "outlines": outlines, "region": None, "draw": ""}


def _outlines(mask: np.ndarray, scale_x: float, scale_y: float) -> list[list[float]]:
    """The outer contours of a boolean mask as flat ``[x0, y0, x1, y1, ...]`` lists in image pixels
    (pixel corners: a mask pixel (i, j) spans x in [j, j + 1])."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    shapes = []
    for contour in contours:
        points = contour.reshape(-1, 2).astype(np.float64) + 0.5
        shapes.append([round(float(v), 1) for xy in points for v in (xy[0] * scale_x, xy[1] * scale_y)])
    return shapes


class SegmentationTask(Task):
    """Per-pixel classes ``argmax_c y[c]``; a target is a class's predicted region (restricted to a
    rectangle on the image shown) and its score is the sum of that class's scores over the region."""

    name = "segmentation"
    resets_on_image = ("region",)
    uses = ("target", "region")

    def __init__(self, scores: torch.Tensor, labels: list[str], names: list[str], image_size: tuple[int, int]) -> None:
        self.labels, self.names = labels, names
        self.predicted = scores.argmax(1).cpu().numpy().astype(np.int32)  # (B, h, w) at the output's resolution
        self.height, self.width = image_size
        h, w = self.predicted.shape[1:]
        self.scale_x, self.scale_y = self.width / w, self.height / h
        self.background = 0 if labels and labels[0].lower() in _BACKGROUND_NAMES else None
        self.shares = np.stack([np.bincount(p.ravel(), minlength=len(labels))[: len(labels)] / p.size for p in self.predicted])
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

    def caption(self, image: int, state: Any) -> str:
        present = [name for c, name, _ in self.ranked(image, 3) if c != self.background]
        return f"{self.names[image]}: {', '.join(present) or 'background'}"

    def default_text(self) -> str:
        return "largest class of each image"

    def target_options(self, state: Any) -> list[tuple[str, int]]:
        present = self.ranked(state.image, len(self.labels))
        options = [(self.default_text(), DEFAULT)] + [(f"{name} ({share:.1%} of the pixels)", c) for c, name, share in present]
        if state.target is not None and state.target not in [c for c, _, _ in present]:
            options.append((f"{self.labels[state.target]} (chosen; not predicted here)", state.target))
        return options

    def option_changes(self, value: int) -> dict[str, Any]:
        return {"target": None if value == DEFAULT else int(value), "region": None}

    def category(self, state: Any, image: int) -> int:
        return self.default_class(image) if state.target is None else state.target

    def class_mask(self, state: Any, image: int) -> np.ndarray:
        """Where ``image`` is predicted as the target class, at the output's resolution."""
        return self.predicted[image] == self.category(state, image)

    def region_mask(self, state: Any, image: int) -> np.ndarray:
        """:meth:`class_mask` inside the rectangle (on the image shown)."""
        mask = self.class_mask(state, image)
        if state.region is not None and image == state.image:
            x1, y1, x2, y2 = state.region
            inside = np.zeros_like(mask)
            inside[int(y1 / self.scale_y) : int(np.ceil(y2 / self.scale_y)), int(x1 / self.scale_x) : int(np.ceil(x2 / self.scale_x))] = True
            mask &= inside
        return mask

    def target_label(self, state: Any) -> str:
        c = self.category(state, state.image)
        share = self.region_mask(state, state.image).mean()
        where = " in the rectangle" if state.region is not None else ""
        chosen = "" if state.target is not None else ", largest class"
        return f"{self.labels[c]} ({share:.1%} of the pixels{where}{chosen})"

    def check(self, state: Any, width: int, height: int) -> Any:
        super().check(state, width, height)
        if state.region is not None and not self.region_mask(state, state.image).any():
            c = self.category(state, state.image)
            raise ValueError(f"the rectangle {state.region} holds no pixel predicted as {self.labels[c]}; drag it over the outlined region")
        return state

    def targets(self, state: Any, images: Sequence[int]) -> list:
        chosen = []
        for image in images:
            c = self.category(state, image)
            key = (image, c, state.region if image == state.image else None)
            if key not in self._masks:  # kept: the capture cache knows a mask by its object
                self._masks[key] = SemanticSegmentationTarget(c, torch.from_numpy(self.region_mask(state, image).astype(np.float32)))
            chosen.append(self._masks[key])
        return chosen

    def annotations(self, state: Any) -> dict[str, Any]:
        outline = _outlines(self.class_mask(state, state.image), self.scale_x, self.scale_y)
        return {"boxes": [], "outlines": outline, "region": list(state.region) if state.region else None, "draw": "region"}


class EmbeddingTask(Task):
    """``(B, D)`` embeddings; the concept is image ``concept``'s embedding, or that of a rectangle of
    it (cropped and resized to the input size); the score is the cosine similarity to it."""

    name = "embedding"
    resets_on_image = ()
    uses = ("concept", "region")

    def __init__(self, embeddings: torch.Tensor, names: list[str], embed: Any, batch: torch.Tensor) -> None:
        self.labels, self.names = [], names
        self.embeddings = embeddings.detach()
        self.embed, self.batch = embed, batch
        self._concepts: dict[tuple, torch.Tensor] = {}
        self._targets: dict[tuple, SimilarityToConceptTarget] = {}

    def concept_vector(self, state: Any) -> torch.Tensor:
        """The concept's embedding (kept, so the capture cache knows it again)."""
        concept = 0 if state.concept is None else state.concept
        key = (concept, state.region)
        if key not in self._concepts:
            if state.region is None:
                self._concepts[key] = self.embeddings[concept]
            else:
                x1, y1, x2, y2 = state.region
                crop = self.batch[concept : concept + 1, :, y1:y2, x1:x2]
                crop = F.interpolate(crop, size=tuple(self.batch.shape[-2:]), mode="bilinear", align_corners=False)
                self._concepts[key] = self.embed(crop)[0].detach()
        return self._concepts[key]

    def cosines(self, state: Any) -> np.ndarray:
        """(B,) cosine similarity of every image to the concept."""
        concept = self.concept_vector(state).to(self.embeddings.device, self.embeddings.dtype)
        return F.cosine_similarity(self.embeddings.float(), concept.float()[None], dim=1).cpu().numpy()

    def ranked(self, image: int, k: int = 5) -> list[tuple[int, str, float]]:
        return []

    def caption(self, image: int, state: Any) -> str:
        return f"{self.names[image]}: cosine {self.cosines(state)[image]:.2f}"

    def concept_text(self, state: Any) -> str:
        concept = 0 if state.concept is None else state.concept
        if state.region is None:
            return self.names[concept]
        x1, y1, x2, y2 = state.region
        return f"box ({x1}, {y1})–({x2}, {y2}) of {self.names[concept]}"

    def target_options(self, state: Any) -> list[tuple[str, int]]:
        shown = self.embeddings[state.image].float()
        cosines = F.cosine_similarity(self.embeddings.float(), shown[None], dim=1).cpu().numpy()  # each candidate's to the image shown
        options = [(f"concept: {name} · cosine {c:.2f}", k) for k, (name, c) in enumerate(zip(self.names, cosines))]
        if state.region is not None:
            options.append((f"concept: {self.concept_text(state)}", len(self.names)))
        return options

    def option_value(self, state: Any) -> int:
        return len(self.names) if state.region is not None else (0 if state.concept is None else state.concept)

    def option_changes(self, value: int) -> dict[str, Any]:
        return {} if value >= len(self.names) else {"concept": int(value), "region": None}

    def target_label(self, state: Any) -> str:
        return f"similarity to {self.concept_text(state)} (cosine {self.cosines(state)[state.image]:.3f})"

    def check(self, state: Any, width: int, height: int) -> Any:
        super().check(state, width, height)
        if state.concept is None:
            raise ValueError("concept must be an image index")
        if not 0 <= state.concept < len(self.names):
            raise ValueError(f"concept must be an image index from 0 to {len(self.names) - 1}; got {state.concept}")
        return state

    def targets(self, state: Any, images: Sequence[int]) -> list:
        key = (state.concept, state.region)
        if key not in self._targets:
            self._targets[key] = SimilarityToConceptTarget(self.concept_vector(state))
        return [self._targets[key]] * len(images)

    def annotations(self, state: Any) -> dict[str, Any]:
        region = list(state.region) if state.region is not None and state.concept == state.image else None
        return {"boxes": [], "outlines": [], "region": region, "draw": "region"}


def build_task(name: str, outputs: Any, labels: list[str], names: list[str], *, image_size: tuple[int, int],
               threshold: float, embed: Any, batch: torch.Tensor) -> Task:  # fmt: skip
    """The task object for ``name`` over the no-grad ``outputs``."""
    if name == "detection":
        return DetectionTask(list(outputs), labels, names, threshold, image_size)
    if isinstance(outputs, dict):
        outputs = outputs["out"]
    if name == "segmentation":
        return SegmentationTask(outputs, labels, names, image_size)
    if name == "embedding":
        return EmbeddingTask(outputs, names, embed, batch)
    if name == "multilabel":
        return MultilabelTask(outputs, labels, names)
    return Task(torch.softmax(outputs.float(), dim=1), labels, names)
