"""Detectors' raw outputs read as boxes, in the form torchvision's detectors return them.

torchvision's detectors return one dict per image (``boxes`` x1, y1, x2, y2 in input pixels,
``labels``, ``scores``). Other detectors return tensors; a reader turns each form into those dicts
and is itself an ``output_selector`` (differentiable: the scores keep their graph):

- :class:`AnchorRows`, one-stage YOLO heads (ultralytics YOLOv8, YOLO11, and their ``-seg``):
  ``(B, 4 + classes [+ mask coefficients], anchors)``, rows of box centre x, centre y, width,
  height in input pixels, then each class's sigmoid score, one column per anchor of the stride
  8, 16, 32 (and 64) grids; the segmentation heads add ``(B, m, h, w)`` mask prototypes. Boxes are
  kept by the model's own non-maximum suppression (ultralytics', IoU 0.7; torchvision's
  ``batched_nms`` where ultralytics is not installed).
- :class:`QueryRows`, ultralytics RT-DETR: ``(B, k, 6)``, the k best (query, class) pairs: box centre
  and size as fractions of the input, score, class index. A DETR needs no suppression.
- :class:`QueryLogits`, Hugging Face DETR family: ``logits`` (B, queries, classes + 1, the last
  "no object") and ``pred_boxes`` (B, queries, 4) centre and size as fractions of the input; a
  query's score is its best class's softmax probability.

Each dict also holds ``anchors`` (the anchor or query each box came from), ``anchor_scores`` (every
anchor's best class score, differentiable) and ``anchor_logits`` (that class's score before the
sigmoid or softmax, where the head gives it), which :class:`AnchorScoreTarget` reads: a box is
explained by the class score at its own anchor or query (as ODAM does), not by matching boxes.
A YOLO segmentation head's dicts add ``masks``, (n, h, w) probabilities at the prototypes' grid.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import torch
from torch import nn

__all__ = [
    "DetectionReader",
    "AnchorRows",
    "QueryRows",
    "QueryLogits",
    "AnchorScoreTarget",
    "detection_reader",
    "YOLO_IOU",
    "LOWEST_SCORE",
]

#: ultralytics' prediction defaults: NMS IoU, and the most boxes per image.
YOLO_IOU = 0.7
MAX_BOXES = 300
#: Boxes scoring below this are dropped before anything else (ultralytics' validation floor); the
#: explorer's ``score_threshold`` decides what is shown.
LOWEST_SCORE = 0.001


def _corners(centre_size: torch.Tensor) -> torch.Tensor:
    """(n, 4) centre x, centre y, width, height -> x1, y1, x2, y2."""
    centre, size = centre_size[:, :2], centre_size[:, 2:4]
    return torch.cat([centre - size / 2, centre + size / 2], dim=1)


class DetectionReader:
    """Base of the readers: ``reader(raw output) -> [dict per image]``; ``classes``: how many classes
    the head scores (None: unknown); ``kind``: what it reads, for messages."""

    kind = "detections"
    classes: int | None = None

    def __call__(self, output: Any) -> list[dict[str, torch.Tensor]]:
        raise NotImplementedError

    def cache_key(self) -> Hashable:
        return (type(self).__name__, self.classes)


def _anchor_count(image_size: tuple[int, int], strides: tuple[int, ...]) -> int:
    return sum(-(-image_size[0] // s) * -(-image_size[1] // s) for s in strides)


class AnchorRows(DetectionReader):
    """One-stage anchor rows ``(B, 4 + classes + masks, anchors)`` (see the module docstring)."""

    kind = "YOLO anchor rows"

    def __init__(
        self, classes: int, mask_channels: int = 0, image_size: tuple[int, int] = (0, 0), iou: float = YOLO_IOU
    ) -> None:
        self.classes, self.mask_channels, self.image_size, self.iou = classes, mask_channels, tuple(image_size), iou

    @staticmethod
    def matches(rows: Any, image_size: tuple[int, int]) -> bool:
        """Rows with one column per anchor of the stride 8-32 (or 8-64) grids of the image."""
        return (isinstance(rows, torch.Tensor) and rows.ndim == 3 and rows.is_floating_point() and rows.shape[1] > 4
                and rows.shape[2] in (_anchor_count(image_size, (8, 16, 32)), _anchor_count(image_size, (8, 16, 32, 64))))  # fmt: skip

    def _keep(self, boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Indices kept by class-wise non-maximum suppression, best first (at most MAX_BOXES)."""
        from torchvision.ops import batched_nms

        candidates = torch.nonzero(scores >= LOWEST_SCORE).flatten()
        kept = batched_nms(boxes[candidates].float(), scores[candidates].float(), labels[candidates], self.iou)
        return candidates[kept[:MAX_BOXES]]

    def _model_keep(self, rows: torch.Tensor) -> list[torch.Tensor] | None:
        """ultralytics' own suppression of the batch (None where it is not installed)."""
        try:
            from ultralytics.utils.nms import non_max_suppression
        except ImportError:
            return None
        _, kept = non_max_suppression(
            rows, LOWEST_SCORE, self.iou, nc=self.classes, max_det=MAX_BOXES, return_idxs=True
        )
        return [k.flatten().long() for k in kept]

    def _logits(self, output: Any, rows: torch.Tensor) -> torch.Tensor | None:
        """(B, classes, anchors) class scores before the sigmoid, from the head's extras: ultralytics 8.4's
        ``{"scores": ...}``, or earlier versions' per-level maps ``(B, 4 * bins + classes, h, w)``."""
        extras = output[1] if isinstance(output, (tuple, list)) and len(output) == 2 else None
        shape = (rows.shape[0], self.classes, rows.shape[2])
        if (
            isinstance(extras, Mapping)
            and isinstance(extras.get("scores"), torch.Tensor)
            and tuple(extras["scores"].shape) == shape
        ):
            return extras["scores"]
        if (
            isinstance(extras, (list, tuple))
            and extras
            and all(isinstance(t, torch.Tensor) and t.ndim == 4 for t in extras)
        ):
            levels = torch.cat([level.flatten(2) for level in extras], dim=2)
            if levels.shape[2] == rows.shape[2] and levels.shape[1] >= self.classes:
                return levels[:, -self.classes :]
        return None

    def __call__(self, output: Any) -> list[dict[str, torch.Tensor]]:
        rows, prototypes = output, None
        while isinstance(rows, (tuple, list)):  # (rows, extras) or ((rows, prototypes), extras)
            if (
                len(rows) == 2
                and isinstance(rows[0], torch.Tensor)
                and isinstance(rows[1], torch.Tensor)
                and rows[1].ndim == 4
            ):
                rows, prototypes = rows
                break
            rows = rows[0]
        logits = self._logits(output, rows)
        with torch.no_grad():
            model_kept = self._model_keep(rows.detach())
        images = []
        for b in range(rows.shape[0]):
            table = rows[b].transpose(0, 1)  # (anchors, 4 + classes + masks)
            class_scores = table[:, 4 : 4 + self.classes]
            best, labels = class_scores.max(dim=1)
            boxes = _corners(table[:, :4])
            with torch.no_grad():
                kept = model_kept[b] if model_kept is not None else self._keep(boxes.detach(), best.detach(), labels)
            found = {
                "boxes": boxes[kept],
                "labels": labels[kept],
                "scores": best[kept],
                "anchors": kept,
                "anchor_scores": best,
            }
            if logits is not None:
                found["anchor_logits"] = logits[b].gather(0, labels[None]).squeeze(0)
            if prototypes is not None and self.mask_channels:
                with torch.no_grad():
                    found["masks"] = self._masks(
                        table[kept, 4 + self.classes :].detach(),
                        prototypes[b].detach(),
                        boxes[kept].detach(),
                        self.image_size,
                    )
            images.append(found)
        return images

    @staticmethod
    def _masks(
        coefficients: torch.Tensor, prototypes: torch.Tensor, boxes: torch.Tensor, image_size: tuple[int, int]
    ) -> torch.Tensor:
        """(n, h, w) mask probabilities ``sigmoid(coefficients @ prototypes)`` at the prototypes' grid
        (which covers the whole input), zero outside each box (as ultralytics crops them)."""
        channels, height, width = prototypes.shape
        masks = torch.sigmoid(coefficients @ prototypes.reshape(channels, -1)).reshape(-1, height, width)
        scale = boxes.new_tensor([width / image_size[1], height / image_size[0]] * 2)  # pixels -> grid cells
        ys = torch.arange(height, device=masks.device).view(1, -1, 1) + 0.5
        xs = torch.arange(width, device=masks.device).view(1, 1, -1) + 0.5
        cells = boxes * scale
        inside = (
            (xs >= cells[:, 0, None, None])
            & (xs < cells[:, 2, None, None])
            & (ys >= cells[:, 1, None, None])
            & (ys < cells[:, 3, None, None])
        )
        return masks * inside

    def cache_key(self) -> Hashable:
        return ("AnchorRows", self.classes, self.mask_channels, self.image_size, self.iou)


class QueryRows(DetectionReader):
    """RT-DETR rows ``(B, queries, 6)``: centre and size as fractions of the input, score, class."""

    kind = "RT-DETR query rows"

    def __init__(self, image_size: tuple[int, int], classes: int | None = None) -> None:
        self.image_size, self.classes = tuple(image_size), classes

    @staticmethod
    def matches(rows: Any) -> bool:
        """Six columns whose first five lie in [0, 1] and whose last holds whole class numbers."""
        if not (isinstance(rows, torch.Tensor) and rows.ndim == 3 and rows.shape[-1] == 6 and rows.is_floating_point()):
            return False
        values = rows.detach()
        return bool(
            ((values[..., :5] >= 0) & (values[..., :5] <= 1)).all() and (values[..., 5] == values[..., 5].round()).all()
        )

    @staticmethod
    def _logits(output: Any, rows: torch.Tensor) -> torch.Tensor | None:
        """(B, rows) each row's class score before the sigmoid. A row is a (query, class) pair of the
        last decoder layer's ``boxes`` (B, queries, 4) and ``scores`` (B, queries, classes), the first two
        of the extras: its query is the one with its box, checked by ``sigmoid(logit) == score``."""
        extras = (
            output[1]
            if isinstance(output, (tuple, list)) and len(output) == 2 and isinstance(output[1], (tuple, list))
            else ()
        )
        if len(extras) < 2 or not all(isinstance(t, torch.Tensor) and t.ndim >= 3 for t in extras[:2]):
            return None
        boxes, scores = (t.reshape(-1, *t.shape[-3:])[-1] for t in extras[:2])  # the last decoder layer's
        if boxes.shape[0] != rows.shape[0] or boxes.shape[-1] != 4 or scores.shape[:2] != boxes.shape[:2]:
            return None
        queries = torch.cdist(rows[..., :4].detach().float(), boxes.detach().float()).argmin(dim=-1)  # (B, rows)
        classes = rows[..., 5].detach().long().clamp(0, scores.shape[-1] - 1)
        logits = scores[torch.arange(rows.shape[0], device=rows.device)[:, None], queries, classes]
        return logits if torch.allclose(torch.sigmoid(logits.detach()), rows[..., 4].detach(), atol=1e-4) else None

    def __call__(self, output: Any) -> list[dict[str, torch.Tensor]]:
        rows = output[0] if isinstance(output, (tuple, list)) else output
        logits = self._logits(output, rows)
        height, width = self.image_size
        scale = rows.new_tensor([width, height, width, height])
        images = []
        for b, table in enumerate(rows):
            scores, labels = table[:, 4], table[:, 5].detach().long()
            kept = _best_first(scores)
            found = {
                "boxes": _corners(table[kept, :4] * scale),
                "labels": labels[kept],
                "scores": scores[kept],
                "anchors": kept,
                "anchor_scores": scores,
            }
            if logits is not None:
                found["anchor_logits"] = logits[b]
            images.append(found)
        return images

    def cache_key(self) -> Hashable:
        return ("QueryRows", self.image_size, self.classes)


class QueryLogits(DetectionReader):
    """Hugging Face DETR ``logits`` and ``pred_boxes`` (see the module docstring)."""

    kind = "DETR queries (logits and pred_boxes)"

    def __init__(self, image_size: tuple[int, int], classes: int) -> None:
        self.image_size, self.classes = tuple(image_size), classes

    @staticmethod
    def matches(output: Any) -> bool:
        logits, boxes = _field(output, "logits"), _field(output, "pred_boxes")
        return (
            isinstance(logits, torch.Tensor)
            and isinstance(boxes, torch.Tensor)
            and logits.ndim == 3
            and boxes.shape[:2] == logits.shape[:2]
        )

    def __call__(self, output: Any) -> list[dict[str, torch.Tensor]]:
        logits = _field(output, "logits")
        probabilities = torch.softmax(logits, dim=-1)[..., :-1]  # the last class is "no object"
        height, width = self.image_size
        scale = probabilities.new_tensor([width, height, width, height])
        images = []
        for scores, boxes, raw in zip(probabilities, _field(output, "pred_boxes"), logits):
            best, labels = scores.max(dim=1)
            kept = _best_first(best)
            images.append({"boxes": _corners(boxes[kept] * scale), "labels": labels[kept], "scores": best[kept],
                           "anchors": kept, "anchor_scores": best, "anchor_logits": raw.gather(1, labels[:, None]).squeeze(1)})  # fmt: skip
        return images

    def cache_key(self) -> Hashable:
        return ("QueryLogits", self.image_size, self.classes)


def _best_first(scores: torch.Tensor) -> torch.Tensor:
    """The indices of the queries scoring at least LOWEST_SCORE, best first (a DETR needs no suppression)."""
    kept = torch.nonzero(scores.detach() >= LOWEST_SCORE).flatten()
    return kept[scores.detach()[kept].argsort(descending=True)]


def _field(output: Any, name: str) -> Any:
    if isinstance(output, Mapping):
        return output.get(name)
    return getattr(output, name, None)


def _head_classes(model: nn.Module) -> int | None:
    """The class count a detection head declares (ultralytics' ``nc``), if one does."""
    counts = [
        module.nc
        for module in model.modules()
        if isinstance(getattr(module, "nc", None), int) and hasattr(module, "stride")
    ]
    return counts[-1] if counts else None


def detection_reader(output: Any, model: nn.Module, image_size: tuple[int, int]) -> DetectionReader | None:
    """The reader for a detector's raw ``output`` on images of ``image_size``, or None when it is
    none of the forms in the module docstring (torchvision's dicts need none)."""
    if QueryLogits.matches(output):
        return QueryLogits(image_size, int(_field(output, "logits").shape[-1]) - 1)
    first, prototypes = output, None
    while isinstance(first, (tuple, list)) and first and not isinstance(first[0], Mapping):
        if len(first) == 2 and all(isinstance(t, torch.Tensor) for t in first) and first[1].ndim == 4:
            first, prototypes = first
            break
        first = first[0]
    if AnchorRows.matches(first, image_size):
        masks = int(prototypes.shape[1]) if prototypes is not None else 0
        classes = _head_classes(model) or int(first.shape[1]) - 4 - masks
        if 4 + classes + masks != first.shape[1]:
            return None
        return AnchorRows(classes, masks, image_size)
    if QueryRows.matches(first):
        return QueryRows(image_size, _head_classes(model))
    return None


class AnchorScoreTarget:
    """Score = ``anchor_logits[anchor]``: the box's class score before the sigmoid (YOLO, RT-DETR) or
    softmax (DETR) at the anchor or query that made it, read from a reader's dict (``anchor_scores``,
    after the activation, where the head's logits are not found). It follows that box's own
    evidence whatever the other boxes and the suppression do, and a box scored 1.00, whose
    activated score has no gradient left, keeps one."""

    def __init__(self, anchor: int, category: int) -> None:
        self.anchor, self.category = int(anchor), int(category)

    def __call__(self, model_output: dict) -> torch.Tensor:
        if not isinstance(model_output, Mapping) or "anchor_scores" not in model_output:
            raise ValueError(
                "AnchorScoreTarget reads a detection dict with 'anchor_scores' (the explorer's YOLO and DETR readers make them); "
                f"got {type(model_output).__name__}"
            )
        return model_output.get("anchor_logits", model_output["anchor_scores"])[self.anchor]

    def cache_key(self) -> Hashable:
        return ("AnchorScoreTarget", self.anchor, self.category)

    def __repr__(self) -> str:
        return f"AnchorScoreTarget(anchor={self.anchor}, category={self.category})"
