r"""Confidence change when the image is multiplied by its map (Grad-CAM++, https://arxiv.org/abs/1710.11063).

The "explanation map" of an image is the input scaled pixel-wise by the map, ``x * cam`` (in the
normalised input space, as the reference does). With ``Y_i`` the target score of the original image
and ``O_i`` that of its explanation map, over a batch of ``N`` images the paper reports

.. math::

    \text{Average Drop \%} = \frac{100}{N} \sum_i \frac{\max(0,\ Y_i - O_i)}{Y_i},\qquad
    \text{Increase in Confidence \%} = \frac{100}{N} \sum_i \mathbb{1}[O_i > Y_i].

A good map keeps what the model needs: a low average drop, a high increase in confidence. The
paper uses class probabilities (``ClassifierOutputSoftmaxTarget``); Average Drop needs ``Y_i > 0``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .confidence import PerturbationConfidenceMetric, scores_before_and_after

__all__ = [
    "multiply_tensor_with_cam",
    "CamMultImageConfidenceChange",
    "DropInConfidence",
    "IncreaseInConfidence",
    "average_drop",
    "increase_in_confidence",
    "relative_drop",
    "drop_fraction",
]


def multiply_tensor_with_cam(input_tensor: torch.Tensor, cams: torch.Tensor) -> torch.Tensor:
    """The explanation maps ``x * cam``: a (B, C, H, W) batch times its (B, H, W) maps, channel by channel."""
    return input_tensor * cams.unsqueeze(1).to(input_tensor.dtype)


class CamMultImageConfidenceChange(PerturbationConfidenceMetric):
    """Per image, ``O_i - Y_i``: the score of ``x * cam`` minus the score of ``x`` (numpy float32 (B,))."""

    def __init__(self) -> None:
        super().__init__(multiply_tensor_with_cam)


class DropInConfidence(CamMultImageConfidenceChange):
    """Per image, ``max(0, Y_i - O_i)``: how much the score falls when the image is multiplied by its map."""

    def _summarise(self, scores: torch.Tensor) -> torch.Tensor:
        return torch.clamp(-scores, min=0)


class IncreaseInConfidence(CamMultImageConfidenceChange):
    """Per image, ``1[O_i > Y_i]`` (as float32): whether the score rises when the image is multiplied by its map."""

    def _summarise(self, scores: torch.Tensor) -> torch.Tensor:
        return (scores > 0).to(torch.float32)


def _scores(
    input_tensor: Any, cams: Any, targets: Sequence[Callable] | None, model: nn.Module
) -> tuple[torch.Tensor, torch.Tensor]:
    before, after, _ = scores_before_and_after(input_tensor, cams, targets, model, multiply_tensor_with_cam)
    assert before is not None
    return before, after


def drop_fraction(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Per image ``max(0, Y_i - O_i) / Y_i`` from the scores before (``Y``) and after (``O``); the scores
    before must be positive (ValueError naming the images that are not)."""
    if bool((before <= 0).any()):
        bad = [index for index, value in enumerate(before.reshape(len(before), -1).amin(dim=1).tolist()) if value <= 0]
        raise ValueError(
            f"Average Drop divides by the original score, which must be positive; image(s) {bad} score "
            f"{[round(float(before[index].min()), 4) for index in bad]}. Use probability targets such as "
            "ClassifierOutputSoftmaxTarget(c) (logits can be negative)."
        )
    drop = torch.clamp(before - after, min=0) / before
    return drop.reshape(drop.shape[0], -1).mean(dim=1)


def relative_drop(
    input_tensor: torch.Tensor, cams: Any, targets: Sequence[Callable] | None, model: nn.Module
) -> np.ndarray:
    """Per image, ``max(0, Y_i - O_i) / Y_i`` in [0, 1] (lower is better): numpy float32 (B,)."""
    before, after = _scores(input_tensor, cams, targets, model)
    return drop_fraction(before, after).to(torch.float32).cpu().numpy()


def average_drop(input_tensor: torch.Tensor, cams: Any, targets: Sequence[Callable] | None, model: nn.Module) -> float:
    r"""Average Drop % over the batch: ``100/N * sum_i max(0, Y_i - O_i) / Y_i`` (lower is better).

    ``Y_i`` is image i's target score, ``O_i`` that of ``x_i * cam_i``. The scores must be positive:
    use probability targets such as ``ClassifierOutputSoftmaxTarget``, as the paper does.
    """
    before, after = _scores(input_tensor, cams, targets, model)
    return float(drop_fraction(before, after).to(torch.float64).mean() * 100)


def increase_in_confidence(
    input_tensor: torch.Tensor, cams: Any, targets: Sequence[Callable] | None, model: nn.Module
) -> float:
    r"""Increase in Confidence % over the batch: ``100/N * sum_i 1[O_i > Y_i]`` (higher is better)."""
    before, after = _scores(input_tensor, cams, targets, model)
    return float((after > before).to(torch.float64).mean() * 100)
