r"""Deletion and insertion curves (RISE, Petsiuk et al., https://arxiv.org/abs/1806.07421).

The pixels of each image are ordered by its map, most relevant first (ties keep raster order: a
stable sort, so the result is deterministic). With ``n_k = round(k N / steps)`` of the ``N``
pixels at step ``k = 0 .. steps`` and ``M_k`` the mask of the ``n_k`` most relevant ones,

.. math::

    \text{deletion: } x_k = M_k \cdot b + (1 - M_k) \cdot x,\qquad
    \text{insertion: } x_k = M_k \cdot x + (1 - M_k) \cdot b,

with ``b`` the baseline image, and the curve is the target score ``s_k = target(model(x_k))``
against the fraction ``n_k / N``. Its area (trapezoid rule over fractions in [0, 1]) summarises it:
a faithful map makes the score fall fast when deleting (low AUC is better) and rise fast when
inserting (high AUC is better).

The scores are whatever the targets return: use ``ClassifierOutputSoftmaxTarget`` for class
probabilities, as the paper does (``targets=None`` scores each image's top class by its logit).
RISE deletes to a constant (black) image and inserts into a blurred copy; both baselines, and any
given image, work for both curves here. Read the two curves together: deleting scattered pixels
(a map of pixel-level noise) pushes the image out of the training distribution and drops the
score by itself, which flatters such maps on deletion but not on insertion.

All images and steps are evaluated together, in chunks of ``batch_size`` perturbed images, in
torch on the model's device (eval mode, no grad; the model is left as it was). Only the results
cross to the host, as numpy float32.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine import evaluation_mode, gaussian_blur, paired_rows
from .confidence import check_targets, prepare_batch, target_scores, to_numpy

__all__ = ["CurveResult", "deletion_curve", "insertion_curve", "gaussian_blur", "make_baseline"]

#: Input elements (C*H*W summed over images) evaluated per forward when ``batch_size`` is None:
#: 64 ImageNet-sized images.
DEFAULT_CHUNK_ELEMENTS = 64 * 3 * 224 * 224


@dataclass(frozen=True, eq=False)
class CurveResult:
    """A deletion or insertion curve per image.

    ``fractions`` (steps+1,): share of pixels deleted (or inserted) at each step, from 0 to 1;
    ``scores`` (B, steps+1): each image's target score at each step; ``auc`` (B,): the area under
    each curve (trapezoid rule over ``fractions``); ``kind``: ``"deletion"`` or ``"insertion"``.
    """

    fractions: np.ndarray
    scores: np.ndarray
    auc: np.ndarray
    kind: str = ""

    @property
    def mean_auc(self) -> float:
        """The AUC averaged over the images."""
        return float(np.mean(self.auc))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The per-image AUCs, so that a curve reads as the metric's (B,) scores (``np.mean(curve)``)."""
        return np.asarray(self.auc, dtype=dtype)


# --- baselines ----------------------------------------------------------------------------------


def make_baseline(
    images: torch.Tensor,
    baseline: str | float | torch.Tensor = "blur",
    *,
    kernel_size: int = 11,
    sigma: float = 5.0,
    value: float = 0.0,
) -> torch.Tensor:
    """The baseline image of each image in the (B, C, H, W) batch, same shape, device and dtype:

    * ``"blur"``: ``gaussian_blur(images, kernel_size, sigma)``;
    * ``"constant"``: every pixel ``value`` (0, the default, is the dataset mean of a normalised
      image); a number passed as ``baseline`` is the same;
    * a tensor (or array) of shape (C, H, W), (1, C, H, W) or (B, C, H, W): used as given.
    """
    if isinstance(baseline, str):
        if baseline == "blur":
            return gaussian_blur(images, kernel_size, sigma)
        if baseline == "constant":
            return torch.full_like(images, float(value))
        raise ValueError(
            f"baseline must be 'blur', 'constant', a number or a tensor of the input's shape; got {baseline!r}"
        )
    if isinstance(baseline, Real) and not isinstance(baseline, bool):
        return torch.full_like(images, float(baseline))
    if isinstance(baseline, np.ndarray):
        baseline = torch.from_numpy(np.ascontiguousarray(baseline))
    if not isinstance(baseline, torch.Tensor):
        raise TypeError(f"baseline must be 'blur', 'constant', a number or a tensor; got {type(baseline).__name__}")
    if not baseline.is_floating_point():
        raise TypeError(f"a baseline tensor must be floating point, in the model's input space; got {baseline.dtype}")
    shapes = (tuple(images.shape[1:]), (1, *images.shape[1:]), tuple(images.shape))
    if tuple(baseline.shape) not in shapes:
        raise ValueError(
            f"a baseline tensor must have shape (C, H, W), (1, C, H, W) or (B, C, H, W) matching the input "
            f"{tuple(images.shape)}; got {tuple(baseline.shape)}"
        )
    if not bool(torch.isfinite(baseline).all()):
        raise ValueError("the baseline tensor contains NaN or infinite values")
    return baseline.detach().to(device=images.device, dtype=images.dtype).expand_as(images)


# --- ordering -----------------------------------------------------------------------------------


def relevance_ranks(maps: torch.Tensor) -> torch.Tensor:
    """Each pixel's position when the map's pixels are ordered most relevant first (0 = highest),
    ties in raster order (stable sort): int64, the maps' shape (B, H, W)."""
    flat = maps.reshape(maps.shape[0], -1)
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices
    positions = torch.arange(flat.shape[1], device=flat.device).expand_as(order)
    return torch.empty_like(order).scatter_(1, order, positions).view(maps.shape)


def step_counts(pixels: int, steps: int) -> list[int]:
    """``round(k * pixels / steps)`` for ``k = 0 .. steps``: how many pixels each step perturbs."""
    return [(2 * k * pixels + steps) // (2 * steps) for k in range(steps + 1)]


def _check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(
            f"steps must be a positive integer (the curve has steps + 1 points), for example 20; got {steps!r}"
        )
    return steps


def _chunk_size(batch_size: Any, total: int, image_elements: int) -> int:
    if batch_size is None:
        return max(1, min(total, DEFAULT_CHUNK_ELEMENTS // image_elements))
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"batch_size must be a positive integer (perturbed images per forward) or None; got {batch_size!r}"
        )
    return min(batch_size, total)


# --- curves -------------------------------------------------------------------------------------


def _perturbed_chunk(
    images: torch.Tensor, baseline: torch.Tensor, ranks: torch.Tensor, counts: torch.Tensor, insertion: bool
) -> torch.Tensor:
    """Images with their ``counts`` most relevant pixels replaced by the baseline (deletion) or kept,
    the rest being the baseline (insertion); all arguments are per perturbed image."""
    top = (ranks < counts.view(-1, 1, 1)).unsqueeze(1)
    return torch.where(top, images, baseline) if insertion else torch.where(top, baseline, images)


def _curve_scores(
    model: nn.Module,
    x: torch.Tensor,
    baseline: torch.Tensor,
    ranks: torch.Tensor,
    counts: torch.Tensor,
    targets: Sequence[Callable],
    insertion: bool,
    chunk: int,
) -> torch.Tensor:
    """Target scores of every image at every step, (B, steps+1), ``chunk`` perturbed images per forward."""
    batch, points = x.shape[0], counts.shape[0]
    flat = torch.arange(batch * points, device=x.device)
    image_of, step_of = flat // points, flat % points
    scores = []
    for start in range(0, batch * points, chunk):
        images, steps = image_of[start : start + chunk], step_of[start : start + chunk]
        perturbed = _perturbed_chunk(x[images], baseline[images], ranks[images], counts[steps], insertion)
        chunk_targets = [targets[i] for i in images.tolist()]
        with paired_rows(model, images):  # a model with several inputs: each row's other inputs follow it
            scores.append(target_scores(model, perturbed, chunk_targets)[0])
    result = torch.cat(scores)
    if result.ndim != 1:
        raise ValueError(
            f"each target must return one score per image for a curve; got scores of shape {tuple(result.shape[1:])} "
            "per image. Use a scalar target such as ClassifierOutputSoftmaxTarget(c)."
        )
    return result.view(batch, points)


def _curve(
    kind: str,
    model: nn.Module,
    input_tensor: torch.Tensor,
    cams: Any,
    targets: Sequence[Callable] | None,
    steps: int,
    baseline: str | float | torch.Tensor,
    batch_size: int | None,
    options: dict,
) -> CurveResult:
    x, maps = prepare_batch(input_tensor, cams, model)
    if x.ndim != 4:
        raise ValueError(f"{kind} curves perturb 2-D images; input_tensor must be (B, C, H, W), got {tuple(x.shape)}")
    targets = check_targets(targets, x.shape[0])
    steps = _check_steps(steps)
    pixels = maps[0].numel()
    counts = torch.tensor(step_counts(pixels, steps), device=x.device)
    chunk = _chunk_size(batch_size, x.shape[0] * (steps + 1), x[0].numel())
    with evaluation_mode(model), torch.no_grad():
        if targets is None:
            targets = target_scores(model, x, None)[1]
        base = make_baseline(x, baseline, **options)
        scores = _curve_scores(model, x, base, relevance_ranks(maps), counts, list(targets), kind == "insertion", chunk)
    fractions = counts.cpu().to(torch.float64) / pixels
    auc = torch.trapezoid(scores.cpu().to(torch.float64), fractions, dim=1)
    return CurveResult(fractions.numpy(), to_numpy(scores), to_numpy(auc), kind)


def _curve_metric(kind: str, doc: str) -> Callable[..., CurveResult]:
    """The public ``{kind}_curve`` function: one signature for both curves."""

    def curve(
        input_tensor: torch.Tensor,
        cams: Any,
        targets: Sequence[Callable] | None,
        model: nn.Module,
        steps: int = 20,
        baseline: str | float | torch.Tensor = "blur",
        batch_size: int | None = None,
        *,
        kernel_size: int = 11,
        sigma: float = 5.0,
        value: float = 0.0,
    ) -> CurveResult:
        options = {"kernel_size": kernel_size, "sigma": sigma, "value": value}
        return _curve(kind, model, input_tensor, cams, targets, steps, baseline, batch_size, options)

    curve.__name__ = curve.__qualname__ = f"{kind}_curve"
    curve.__doc__ = doc
    return curve


deletion_curve = _curve_metric(
    "deletion",
    """Deletion curve: the score as the most relevant pixels are replaced by the baseline,
    ``x_k = M_k b + (1 - M_k) x`` (RISE, https://arxiv.org/abs/1806.07421). Lower AUC is better.

    ``cams``: (B, H, W) maps of ``input_tensor`` (B, C, H, W), numpy or tensor; ``targets``: one per
    image (``None``: each image's top class); ``steps``: the curve has ``steps + 1`` points;
    ``baseline``: ``"blur"`` (``kernel_size``, ``sigma``), ``"constant"`` (``value``), a number or a
    tensor (see ``make_baseline``); ``batch_size``: perturbed images per forward (``None``: all at
    once, up to 64 ImageNet-sized images). Step 0 scores the original images, the last the baselines.
    """,
)

insertion_curve = _curve_metric(
    "insertion",
    """Insertion curve: the score as the most relevant pixels are revealed on the baseline,
    ``x_k = M_k x + (1 - M_k) b`` (RISE, https://arxiv.org/abs/1806.07421). Higher AUC is better.

    Arguments as for ``deletion_curve``. Step 0 scores the baselines, the last the original images.
    """,
)
