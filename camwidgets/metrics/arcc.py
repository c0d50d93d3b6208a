r"""ARCC and ADCC: one score from a map's coherency, complexity and faithfulness.

Poppi et al., "Revisiting the evaluation of class activation mapping for explainability: a novel
metric and experimental analysis" (https://arxiv.org/abs/2104.10252) define ADCC as the harmonic
mean of three per-image scores, each in [0, 1] with 1 best:

* **Coherency**: the Pearson correlation between a map ``m`` and the map ``m'`` the same CAM gives
  for the explanation image ``x * m`` (mapped from [-1, 1] to [0, 1] as ``(rho + 1) / 2``);
* **1 - Complexity**, with Complexity the mean L1 of the map, ``sum |m| / (H * W)``;
* **1 - Average Drop**, with the drop ``max(0, Y - O) / Y`` of the target score ``Y`` of ``x``
  to ``O`` of ``x * m``;

.. math::

    \text{ADCC} = 3\left(\frac{1}{\text{Coherency}} + \frac{1}{1 - \text{Complexity}}
    + \frac{1}{1 - \text{AverageDrop}}\right)^{-1}.

ARCC (as in grad-cam 1.5.7's ``pytorch_grad_cam.metrics.arcc``) replaces Average Drop with ROAD
combined, rescaled to [0, 1] as ``clip(2 * ROAD, 0, 1)``. Every term has a ``1e-8`` guard, as the
reference's. Note on the reference: its ``ARCC`` docstring says "geometric mean of Complexity,
Coherency and ROAD" and cites arXiv 2605.14641, but its code computes
``3 * (1/(coherency + 1e-8) + 1/((1 - complexity) + 1e-8) + 1/(road + 1e-8)) ** -1``: the
harmonic mean, which is also what the paper defines (for ADCC). We follow the code (and the paper).
The reference has no separate average-drop class for this; ``AverageDropForADCC`` here is ours.

All scores are computed for the whole batch in torch on the model's device and returned as numpy
float32 (B,).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine import evaluation_mode
from .cam_mult import drop_fraction, multiply_tensor_with_cam
from .confidence import as_tensor, check_targets, prepare_batch, target_scores, to_numpy
from .road import ROADCombined

__all__ = ["batch_pearson_coherency", "Complexity", "Coherency", "AverageDropForADCC", "ARCC", "ADCC"]

EPS = 1e-8


def batch_pearson_coherency(a: Any, b: Any) -> torch.Tensor:
    """Pearson correlation of each pair of maps, flattened: (B,) in [-1, 1], in float64 on ``a``'s
    device (``cov / (std_a * std_b + 1e-8)``, the reference's guard; a constant map gives 0)."""
    a = as_tensor(a)
    b = as_tensor(b).to(a.device)
    x = a.reshape(a.shape[0], -1).to(torch.float64)
    y = b.reshape(b.shape[0], -1).to(torch.float64)
    if x.shape != y.shape:
        raise ValueError(f"the two batches of maps must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    n = x.shape[1]
    xc = x - x.mean(dim=1, keepdim=True)
    yc = y - y.mean(dim=1, keepdim=True)
    cov = (xc * yc).sum(dim=1) / (n - 1)
    std_x = torch.sqrt((xc**2).sum(dim=1) / (n - 1))
    std_y = torch.sqrt((yc**2).sum(dim=1) / (n - 1))
    return cov / (std_x * std_y + EPS)


def harmonic_mean_of_scores(*scores: Any) -> np.ndarray:
    """``k / sum_i 1 / (s_i + 1e-8)`` per image over ``k`` score arrays (B,), as numpy float32."""
    stacked = torch.stack([as_tensor(np.asarray(s, dtype=np.float64)) for s in scores])
    return (len(scores) / (1.0 / (stacked + EPS)).sum(dim=0)).to(torch.float32).numpy()


class Complexity:
    """Mean L1 of each map, ``sum |m| / (H * W)``: 0 for an empty map, 1 for a map of ones (lower is
    simpler). ``complexity(grayscale_cams)`` -> numpy float32 (B,)."""

    def __call__(self, grayscale_cams: Any) -> np.ndarray:
        maps = as_tensor(grayscale_cams)
        if maps.ndim < 2:
            raise ValueError(f"grayscale_cams must be a batch of maps (B, H, W); got shape {tuple(maps.shape)}")
        flat = maps.reshape(maps.shape[0], -1).to(torch.float64)
        return to_numpy(flat.abs().sum(dim=1) / flat.shape[1])


def _call_cam(base_method: Callable, images: torch.Tensor, targets: Sequence[Callable] | None) -> torch.Tensor:
    if not callable(base_method):
        raise TypeError(
            f"base_method must be a CAM object called as base_method(input_tensor=..., targets=...), such as GradCAM(model, layers); "
            f"got {type(base_method).__name__}"
        )
    return as_tensor(base_method(input_tensor=images, targets=targets))


class Coherency:
    """``(rho(m', m) + 1) / 2`` per image, with ``m'`` the map ``base_method`` gives for ``x * m``
    (higher is better). ``coherency(input_tensor, grayscale_cams, targets, model, base_method)``
    -> numpy float32 (B,); one CAM call for the whole batch."""

    def scores(
        self,
        input_tensor: torch.Tensor,
        grayscale_cams: Any,
        targets: Sequence[Callable] | None,
        model: nn.Module,
        base_method: Callable,
    ) -> torch.Tensor:
        x, maps = prepare_batch(input_tensor, grayscale_cams, model)
        targets = check_targets(targets, x.shape[0])
        mixed_cams = _call_cam(base_method, multiply_tensor_with_cam(x, maps), targets)
        if tuple(mixed_cams.shape) != tuple(maps.shape):
            raise ValueError(
                f"base_method returned maps of shape {tuple(mixed_cams.shape)} for maps of shape {tuple(maps.shape)}"
            )
        return (batch_pearson_coherency(mixed_cams.to(maps.device), maps) + 1) / 2

    def __call__(
        self,
        input_tensor: torch.Tensor,
        grayscale_cams: Any,
        targets: Sequence[Callable] | None,
        model: nn.Module,
        base_method: Callable,
    ) -> np.ndarray:
        return to_numpy(self.scores(input_tensor, grayscale_cams, targets, model, base_method))


class AverageDropForADCC:
    """Per image, ``max(0, Y - O) / Y`` in [0, 1] (lower is better), ``Y`` the target score of ``x``
    and ``O`` that of ``x * m``. The scores must be positive (use ``ClassifierOutputSoftmaxTarget``).
    ``drop(input_tensor, grayscale_cams, targets, model)`` -> numpy float32 (B,)."""

    def __call__(
        self, input_tensor: torch.Tensor, grayscale_cams: Any, targets: Sequence[Callable] | None, model: nn.Module
    ) -> np.ndarray:
        x, maps = prepare_batch(input_tensor, grayscale_cams, model)
        targets = check_targets(targets, x.shape[0])
        with evaluation_mode(model), torch.no_grad():
            before, targets = target_scores(model, x, targets)
            after, _ = target_scores(model, multiply_tensor_with_cam(x, maps), targets)
        return to_numpy(drop_fraction(before, after))


class ARCC:
    """Harmonic mean of Coherency, ``1 - Complexity`` and ``clip(2 * ROADCombined, 0, 1)`` per image
    (higher is better), as grad-cam 1.5.7's ``ARCC`` computes it (its docstring says geometric mean;
    its code, like the paper, takes the harmonic mean).

    ``ARCC(base_method, road_percentiles=[20, 40, 60, 80])``, then
    ``arcc(input_tensor, grayscale_cams, targets, model)`` -> numpy float32 (B,). ``noise`` and
    ``generator`` go to :class:`ROADCombined` (its imputation noise, 0.01 like the reference's).
    """

    def __init__(
        self,
        base_method: Callable,
        road_percentiles: Sequence[float] = (20, 40, 60, 80),
        *,
        noise: float = 0.01,
        generator: torch.Generator | None = None,
    ) -> None:
        self.complexity = Complexity()
        self.coherency = Coherency()
        self.road = ROADCombined(percentiles=list(road_percentiles), noise=noise, generator=generator)
        self.base_method = base_method

    def components(
        self, input_tensor: torch.Tensor, grayscale_cams: Any, targets: Sequence[Callable] | None, model: nn.Module
    ) -> dict[str, np.ndarray]:
        """The three terms, each numpy float32 (B,): ``coherency``, ``complexity`` and ``road``
        (already rescaled to [0, 1])."""
        complexity = self.complexity(grayscale_cams)
        coherency = self.coherency(input_tensor, grayscale_cams, targets, model, self.base_method)
        road = np.clip(self.road(input_tensor, grayscale_cams, targets, model) * 2, 0, 1).astype(np.float32)
        return {"coherency": coherency, "complexity": complexity, "road": road}

    def __call__(
        self, input_tensor: torch.Tensor, grayscale_cams: Any, targets: Sequence[Callable] | None, model: nn.Module
    ) -> np.ndarray:
        parts = self.components(input_tensor, grayscale_cams, targets, model)
        return harmonic_mean_of_scores(parts["coherency"], 1 - parts["complexity"].astype(np.float64), parts["road"])


class ADCC:
    """The paper's ADCC: harmonic mean of Coherency, ``1 - Complexity`` and ``1 - AverageDrop`` per
    image (higher is better). ``ADCC(base_method)``, then ``adcc(input_tensor, grayscale_cams,
    targets, model)`` -> numpy float32 (B,). Needs positive target scores (probabilities)."""

    def __init__(self, base_method: Callable) -> None:
        self.complexity = Complexity()
        self.coherency = Coherency()
        self.average_drop = AverageDropForADCC()
        self.base_method = base_method

    def components(
        self, input_tensor: torch.Tensor, grayscale_cams: Any, targets: Sequence[Callable] | None, model: nn.Module
    ) -> dict[str, np.ndarray]:
        return {
            "coherency": self.coherency(input_tensor, grayscale_cams, targets, model, self.base_method),
            "complexity": self.complexity(grayscale_cams),
            "average_drop": self.average_drop(input_tensor, grayscale_cams, targets, model),
        }

    def __call__(
        self, input_tensor: torch.Tensor, grayscale_cams: Any, targets: Sequence[Callable] | None, model: nn.Module
    ) -> np.ndarray:
        parts = self.components(input_tensor, grayscale_cams, targets, model)
        return harmonic_mean_of_scores(
            parts["coherency"], 1 - parts["complexity"].astype(np.float64), 1 - parts["average_drop"].astype(np.float64)
        )
