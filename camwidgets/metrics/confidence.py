"""Scoring a batch before and after a perturbation: the machinery every confidence metric shares.

A metric perturbs the whole batch with its maps in one call (on the model's device), runs one
forward for the original batch and one for the perturbed batch (eval mode, no grad), and scores
each image with its target. Only the per-image results cross to the host, as numpy float32.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine import (
    ChannelsLastForward,
    TwinForward,
    check_input,
    check_targets,
    evaluation_mode,
    model_device,
    model_lock,
    per_image_outputs,
    select_output,
    several_inputs_active,
    target_value,
    top_class_targets,
)

__all__ = ["PerturbationConfidenceMetric"]

#: A batched perturbation: (input batch (B, C, H, W), maps (B, H, W)) -> perturbed batch, all on one device.
Perturbation = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def as_tensor(value: Any, what: str = "maps") -> torch.Tensor:
    """A numpy array or tensor as a detached tensor (numpy shares memory); TypeError for anything else."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    raise TypeError(f"{what} must be a numpy array or a torch tensor of shape (B, H, W); got {type(value).__name__}")


def map_values(maps: torch.Tensor) -> torch.Tensor:
    """Maps as floating-point values: boolean (thresholded) maps read as 0 and 1, as the reference
    multiplies them; other non-float maps and NaN or infinite values are refused."""
    if maps.dtype == torch.bool:
        maps = maps.float()
    if not maps.is_floating_point():
        raise TypeError(
            f"cams must be floating point maps (values in [0, 1]) or boolean masks; got {maps.dtype}. Convert them with .astype(np.float32)."
        )
    if not bool(torch.isfinite(maps).all()):
        raise ValueError("cams contains NaN or infinite values; check the CAM that produced them")
    return maps


def prepare_batch(input_tensor: torch.Tensor, cams: Any, model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The input batch and its maps (numpy or tensor) on the model's device, checked against each
    other: ``cams`` must hold one map per image with the input's spatial size, (B, H, W)."""
    check_input(input_tensor)
    maps = as_tensor(cams, "cams")
    expected = (input_tensor.shape[0], *input_tensor.shape[2:])
    if tuple(maps.shape) != expected:
        hint = ""
        if tuple(maps.shape) == expected[1:]:
            hint = " For a single map add the batch axis: cams[None]."
        elif maps.ndim == len(expected) + 1 and maps.shape[1] == 1:
            hint = " Drop the channel axis: cams[:, 0]."
        raise ValueError(
            f"cams has shape {tuple(maps.shape)}, but the input batch {tuple(input_tensor.shape)} needs one map per image "
            f"with the input's spatial size, shape {expected}.{hint} Pass the maps a CAM returned for this input_tensor."
        )
    maps = map_values(maps)
    device = model_device(model)
    return input_tensor.detach().to(device), maps.to(device)


def target_scores(
    model: nn.Module, batch: torch.Tensor, targets: Sequence[Callable] | None
) -> tuple[torch.Tensor, list]:
    """``target_i(model(batch)_i)`` for every image from one forward, as float32 (like the reference),
    and the targets used (``None``: each image's top class). Call it inside ``evaluation_mode(model)``
    and ``no_grad``."""
    # channels-last on the CPU, where its convolutions are faster; a model rejecting it gets the batch as is;
    # its batch norms folded into its convolutions when it has them (not with several inputs: their binding is on the model)
    with model_lock(model):
        forward = ChannelsLastForward(model, enabled=batch.device.type == "cpu")
        if not several_inputs_active(model):
            forward = TwinForward(model, forward)
        outputs = select_output(forward(batch), None)
    if targets is None:
        targets = top_class_targets(outputs, len(batch))
    rows = per_image_outputs(outputs, len(batch))
    scores = [target_value(target, row, image) for image, (target, row) in enumerate(zip(targets, rows))]
    shapes = {tuple(score.shape) for score in scores}
    if len(shapes) > 1:
        raise ValueError(
            f"the targets return scores of different shapes {sorted(shapes)}; each target must return one score (or the same shape)"
        )
    return torch.stack([score.to(device=batch.device, dtype=torch.float32) for score in scores]), list(targets)


def scores_before_and_after(
    input_tensor: torch.Tensor,
    cams: Any,
    targets: Sequence[Callable] | None,
    model: nn.Module,
    perturbation: Perturbation,
    *,
    score_original: bool = True,
) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """(scores of the original batch or ``None``, scores of the perturbed batch, the perturbed batch),
    from one forward each, on the model's device; the model is left as it was."""
    x, maps = prepare_batch(input_tensor, cams, model)
    targets = check_targets(targets, x.shape[0])
    with evaluation_mode(model), torch.no_grad():
        before = None
        if score_original or targets is None:
            before, targets = target_scores(model, x, targets)
        perturbed = perturbation(x, maps)
        after, _ = target_scores(model, perturbed, targets)
    return (before if score_original else None), after, perturbed


def to_numpy(scores: torch.Tensor) -> np.ndarray:
    """Per-image results at the edge: a float32 numpy array."""
    return scores.detach().to("cpu", torch.float32).numpy()


class PerturbationConfidenceMetric:
    """Score change when the input is perturbed by its map: ``s_i' - s_i`` per image, with
    ``s_i = target_i(model(x)_i)`` and ``s_i' = target_i(model(perturb(x, cam))_i)``.

    ``perturbation`` is batched: it receives the whole (B, C, H, W) batch and the (B, H, W) maps on
    the model's device and returns the perturbed batch (the reference's takes one image at a time).
    """

    def __init__(self, perturbation: Perturbation) -> None:
        self.perturbation = perturbation

    def __call__(
        self,
        input_tensor: torch.Tensor,
        cams: Any,
        targets: Sequence[Callable] | None,
        model: nn.Module,
        return_visualization: bool = False,
        return_diff: bool = True,
    ) -> np.ndarray | tuple[np.ndarray, torch.Tensor]:
        """Per-image results, numpy float32 (B,): ``s' - s`` (or ``s'`` with ``return_diff=False``);
        with ``return_visualization=True`` also the perturbed batch (on the model's device)."""
        before, after, perturbed = scores_before_and_after(
            input_tensor, cams, targets, model, self.perturbation, score_original=return_diff
        )
        result = self._summarise(after - before if before is not None else after)
        return (to_numpy(result), perturbed) if return_visualization else to_numpy(result)

    def _summarise(self, scores: torch.Tensor) -> torch.Tensor:
        """What the metric reports from the per-image differences (or scores); subclasses change it."""
        return scores

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
