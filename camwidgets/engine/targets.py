"""What to explain: callables that turn one image's model output into a scalar score.

Each target is called with the output for a single image (a 1-D logit vector for a classifier,
a (K, H, W) score map for a segmenter, a dict of boxes for a detector) and returns a score whose
gradient the gradient methods follow. Any callable with that contract works as a target.

``cache_key()`` lets a session recognise that two target objects ask for the same thing, so a
cached forward/backward can be reused; callables without it are keyed by identity.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "ClassifierOutputTarget",
    "ClassifierOutputSoftmaxTarget",
    "ClassifierOutputReST",
    "BinaryClassifierOutputTarget",
    "SoftmaxOutputTarget",
    "RawScoresOutputTarget",
    "SemanticSegmentationTarget",
    "FasterRCNNBoxScoreTarget",
    "SimilarityToConceptTarget",
    "FinerWeightedTarget",
    "EachOf",
    "target_key",
]


def _class_index(category: Any) -> int:
    if isinstance(category, torch.Tensor):
        if category.numel() != 1:
            raise TypeError(f"a class index must be a single integer; got a tensor of shape {tuple(category.shape)}")
        category = category.item()
    try:
        index = int(category)
    except (TypeError, ValueError):
        raise TypeError(f"a class index must be an integer; got {category!r}") from None
    if index != category:
        raise TypeError(f"a class index must be an integer; got {category!r}")
    return index


def _check_in_range(index: int, scores: torch.Tensor, what: str = "class index") -> None:
    count = scores.shape[-1]
    if not 0 <= index < count:
        raise ValueError(
            f"{what} {index} is out of range for a model output with {count} scores "
            f"(valid: 0 to {count - 1}). Check the class index, or the output_selector if the model returns several outputs."
        )


class _ClassTarget:
    """Base for targets that pick one class from a logit vector."""

    def __init__(self, category: int) -> None:
        self.category = _class_index(category)

    def cache_key(self) -> Hashable:
        return (type(self).__name__, self.category)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.category})"

    def _pick(self, scores: torch.Tensor) -> torch.Tensor:
        _check_in_range(self.category, scores)
        return scores[..., self.category]


class ClassifierOutputTarget(_ClassTarget):
    """Score = logit of ``category``: ``y[c]``."""

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        return self._pick(model_output)


class ClassifierOutputSoftmaxTarget(_ClassTarget):
    """Score = softmax probability of ``category``: ``exp(y[c]) / sum_k exp(y[k])``."""

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        return self._pick(torch.softmax(model_output, dim=-1))


class ClassifierOutputReST(_ClassTarget):
    """Score = logit minus cross-entropy of ``category``: ``y[c] - CE(y, c) = y[c] + log softmax(y)[c]``.

    Combines the pre- and post-softmax views (ReST, https://arxiv.org/abs/2501.06261).
    """

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        logit = self._pick(model_output)
        return logit + torch.log_softmax(model_output, dim=-1)[..., self.category]


class BinaryClassifierOutputTarget:
    """Score for a single-logit binary classifier: ``y`` for category 1, ``-y`` for category 0."""

    def __init__(self, category: int) -> None:
        self.category = _class_index(category)

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        return model_output if self.category == 1 else -model_output

    def cache_key(self) -> Hashable:
        return ("BinaryClassifierOutputTarget", self.category)


class SoftmaxOutputTarget:
    """All softmax probabilities (summed to a scalar when used for gradients)."""

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        return torch.softmax(model_output, dim=-1)

    def cache_key(self) -> Hashable:
        return ("SoftmaxOutputTarget",)


class RawScoresOutputTarget:
    """The raw output itself (summed to a scalar when used for gradients)."""

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        return model_output

    def cache_key(self) -> Hashable:
        return ("RawScoresOutputTarget",)


class SemanticSegmentationTarget:
    """Score = sum over the mask of the class's score map: ``sum_ij y[c, i, j] * mask[i, j]``."""

    def __init__(self, category: int, mask: np.ndarray | torch.Tensor) -> None:
        self.category = _class_index(category)
        mask_tensor = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask)
        if mask_tensor.ndim != 2:
            raise ValueError(f"the segmentation mask must be 2-D (H, W); got shape {tuple(mask_tensor.shape)}")
        self.mask = mask_tensor

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        if model_output.ndim != 3:
            raise ValueError(
                f"SemanticSegmentationTarget expects one image's (classes, H, W) score map; got shape {tuple(model_output.shape)}. "
                "If the model returns a dict (torchvision segmenters return {'out': ...}), pass output_selector='out'."
            )
        if model_output.shape[0] <= self.category:
            _check_in_range(self.category, model_output.new_zeros(model_output.shape[0]))
        if tuple(model_output.shape[1:]) != tuple(self.mask.shape):
            raise ValueError(
                f"the mask has shape {tuple(self.mask.shape)} but the score map is {tuple(model_output.shape[1:])}; resize the mask to match"
            )
        mask = self.mask.to(device=model_output.device, dtype=model_output.dtype)
        return (model_output[self.category] * mask).sum()

    def cache_key(self) -> Hashable:
        return ("SemanticSegmentationTarget", self.category, id(self.mask), self.mask._version)


class FasterRCNNBoxScoreTarget:
    """Score for a detector's output dict (``boxes``, ``labels``, ``scores``).

    For every reference box, the detection with the highest IoU counts if IoU > threshold and its
    label matches: it adds ``IoU + score``. Unmatched reference boxes add nothing.
    """

    def __init__(self, labels: Sequence[int], bounding_boxes: Any, iou_threshold: float = 0.5) -> None:
        self.labels = labels
        self.bounding_boxes = bounding_boxes
        self.iou_threshold = iou_threshold

    def __call__(self, model_outputs: dict) -> torch.Tensor:
        from torchvision.ops import box_iou

        if not isinstance(model_outputs, dict) or "boxes" not in model_outputs:
            raise ValueError(
                "FasterRCNNBoxScoreTarget expects one image's detection dict with 'boxes', 'labels' and 'scores'; "
                f"got {type(model_outputs).__name__}"
            )
        boxes = model_outputs["boxes"]
        total = torch.zeros(1, device=boxes.device, dtype=boxes.dtype)
        if len(boxes) == 0:
            return total
        for box, label in zip(self.bounding_boxes, self.labels):
            reference = torch.as_tensor(box, device=boxes.device, dtype=boxes.dtype).reshape(1, 4)
            ious = box_iou(reference, boxes)[0]
            best = ious.argmax()
            if ious[best] > self.iou_threshold and model_outputs["labels"][best] == label:
                total = total + ious[best] + model_outputs["scores"][best]
        return total

    def cache_key(self) -> Hashable:
        boxes = np.asarray(
            self.bounding_boxes.detach().cpu()
            if isinstance(self.bounding_boxes, torch.Tensor)
            else self.bounding_boxes,
            dtype=np.float64,
        )
        return (
            "FasterRCNNBoxScoreTarget",
            tuple(int(v) for v in self.labels),
            boxes.tobytes(),
            float(self.iou_threshold),
        )


class SimilarityToConceptTarget:
    """Score = cosine similarity between the image's embedding and a concept embedding:
    ``<e, f> / (|e| |f|)``. Explains embedding models (what makes this image look like the concept)."""

    def __init__(self, features: torch.Tensor) -> None:
        self.features = torch.as_tensor(features)

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        concept = self.features.to(device=model_output.device, dtype=model_output.dtype)
        if concept.shape != model_output.shape:
            raise ValueError(
                f"the concept embedding has shape {tuple(concept.shape)} but the model output is {tuple(model_output.shape)}"
            )
        return torch.nn.functional.cosine_similarity(model_output.flatten(), concept.flatten(), dim=0)

    def cache_key(self) -> Hashable:
        return ("SimilarityToConceptTarget", id(self.features), self.features._version)


class FinerWeightedTarget:
    """Contrast a class with similar ones (Finer-CAM):
    ``sum_k p_k (y[c] - alpha * y[k]) / (sum_k p_k + 1e-9)`` over comparison classes k, p = softmax(y)."""

    def __init__(self, main_category: int, comparison_categories: Sequence[int], alpha: float) -> None:
        self.main_category = _class_index(main_category)
        self.comparison_categories = [_class_index(c) for c in comparison_categories]
        self.alpha = alpha

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        for index in [self.main_category, *self.comparison_categories]:
            _check_in_range(index, model_output)
        main = model_output[..., self.main_category]
        probabilities = torch.softmax(model_output, dim=-1)
        numerator = torch.zeros_like(main)
        denominator = torch.zeros_like(main)
        for index in self.comparison_categories:
            weight = probabilities[..., index]
            numerator = numerator + weight * (main - self.alpha * model_output[..., index])
            denominator = denominator + weight
        return numerator / (denominator + 1e-9)

    def cache_key(self) -> Hashable:
        return ("FinerWeightedTarget", self.main_category, tuple(self.comparison_categories), float(self.alpha))


def target_key(target: Any) -> Hashable:
    """A hashable key saying what a target asks for; identity for callables without ``cache_key``."""
    key = getattr(target, "cache_key", None)
    if callable(key):
        return key()
    return ("callable", id(target))


class EachOf:
    r"""Several targets of one image explained each on its own: the map is
    ``max_k normalise(map(target_k))``, so that a part with a saturated score (a detection at 1.00,
    whose score has almost no gradient) shows as strongly as the others, where the map of their sum
    would show only the unsaturated ones. :meth:`Explainer.compute` runs one row per part; an empty
    list gives a blank map. Not a score itself: calling it raises."""

    def __init__(self, targets: Sequence[Callable]) -> None:
        self.targets = list(targets)

    def __call__(self, model_output: Any) -> torch.Tensor:
        raise TypeError("EachOf is not a score: Explainer.compute explains each of its targets and combines the maps")

    def cache_key(self) -> Hashable:
        return ("EachOf", tuple(target_key(target) for target in self.targets))
