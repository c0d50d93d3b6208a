r"""Perturbation methods: score the model again on perturbed copies of the input or of a layer's output.

Score-CAM family: each channel ``A_k`` of the target layer, upsampled to the input size and
min-max normalised, masks the input; the target's score on the masked input weighs the channel.
Ablation-CAM: each channel of the layer's output is ablated in turn; the relative drop of the
target's score weighs the channel. Both end as ``sum_k w_k A_k`` and share ReLU, normalisation and
upsampling with the other methods (:func:`~camwidgets.engine.maps.finish_maps`).

Everything runs on the model's device in chunks of ``batch_size`` copies (the Score-CAM family's
default None: a size chosen from measured time, :mod:`~camwidgets.engine.batch_sizing`; no (B, C, 3, H, W)
tensor is ever built), in eval mode, without gradients, with a progress callback per chunk.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..batch_sizing import MeasuredChunks
from ..capture import target_score
from ..inference_twin import TwinForward
from ..inputs import paired_rows, several_inputs_active
from ..maps import LINEAR_MODES
from ..memory_layout import ChannelsLastForward
from ..modules import BatchMismatch, evaluation_mode, forward_hooks, per_image_outputs, select_output
from ..progress import Progress
from ..smoothing import first_principal_component
from ..targets import ClassifierOutputTarget
from .combine import weighted_channels
from .registry import MethodCall, MethodSpec

__all__ = [
    "scorecam",
    "sscam",
    "iscam",
    "ablationcam",
    "AblationLayer",
    "AblationLayerVit",
    "AblationLayerFasterRCNN",
    "channel_masks",
    "OPTIONS",
    "SPECS",
    "score_rows",
]

MASK_EPSILON = 1e-8
ABLATION_STEP = 1e7
FPN_ABLATION_VALUE = -1000.0
OBJECTIVENESS_THRESHOLD = 0.01

#: Each method's options and their defaults (the Score-CAM family's batch size None: measured, see
#: :mod:`~camwidgets.engine.batch_sizing`; Ablation-CAM's the reference's, in its constructor order).
OPTIONS: dict[str, dict[str, Any]] = {
    "scorecam": {"batch_size": None, "deduplicate": True, "use_amp": False, "channels_last": True},
    "sscam": {"batch_size": None, "num_samples": 35, "std": 2.0, "seed": None, "use_amp": False, "channels_last": True},
    "iscam": {"batch_size": None, "num_samples": 10, "deduplicate": True, "use_amp": False, "channels_last": True},
    "ablationcam": {"ablation_layer": None, "batch_size": 32, "ratio_channels_to_ablate": 1.0, "reuse_prefix": True},
}


# ----------------------------------------------------------------------------------------------
# shared pieces


def check_batch_size(options: dict[str, Any], measured: bool = False) -> None:
    """``batch_size``, the copies per forward, must be a positive integer (made an int in place), or None
    where ``measured`` (chosen from measured time)."""
    if measured and options["batch_size"] is None:
        return
    size = options["batch_size"]
    if isinstance(size, bool) or not isinstance(size, (int, float)) or int(size) < 1:
        also = " or None (chosen from measured time)" if measured else ""
        raise ValueError(f"batch_size must be a positive number of copies per forward{also}; got {size!r}")
    options["batch_size"] = int(size)


def score_rows(outputs: Any, targets: Sequence[Callable], owners: torch.Tensor, owner_list: list[int]) -> torch.Tensor:
    """``target_{owner_r}(output_r)`` for each row ``r`` of a chunk's outputs, as float32 (n,).

    Class-logit targets are read with one gather; other targets are called row by row."""
    rows = per_image_outputs(outputs, len(owner_list))
    if isinstance(rows, torch.Tensor) and rows.ndim == 2 and all(type(t) is ClassifierOutputTarget for t in targets):
        categories = torch.tensor([t.category for t in targets], device=rows.device)[owners]
        return rows.gather(1, categories[:, None]).squeeze(1).float()
    return torch.stack([target_score(targets[owner], row, owner) for owner, row in zip(owner_list, rows)]).float()


@contextlib.contextmanager
def autocast_if(device: torch.device, enabled: bool) -> Iterator[None]:
    """float16 autocast on CUDA when ``enabled``; a clear error for other devices."""
    if not enabled:
        yield
        return
    if device.type != "cuda":
        raise ValueError(
            f"use_amp runs the extra forwards in float16 on a CUDA device; the model is on {device}. Pass use_amp=False."
        )
    with torch.autocast(device_type="cuda", dtype=torch.float16):
        yield


def _chunks(count: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


def _targets_and_layers(call: MethodCall) -> tuple[Any, list, list[torch.Tensor]]:
    """One capture without gradients: (capture, resolved targets, each layer's (B, C, *s) activations)."""
    explainer = call.explainer
    result = explainer.capture(call.input_tensor, call.targets, need_gradients=False)
    if result.targets is None:
        raise ValueError(
            "this method scores the model output with a target; pass targets (one per image) for this model"
        )
    spatial = [explainer.spatial(record.activation, result, record.name) for record in result.records]
    return result, result.targets, spatial


def _finish(call: MethodCall, result: Any, weights: list[torch.Tensor], spatial: list[torch.Tensor]) -> torch.Tensor:
    raw = [weighted_channels(w.to(a.dtype), a, call.eigen_smooth) for w, a in zip(weights, spatial)]
    return call.explainer.finish(raw, result.image_size)


# ----------------------------------------------------------------------------------------------
# Score-CAM family


def channel_masks(activations: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    r"""(n, *s) channels -> (n, 1, *size) masks ``(U(A) - min U(A)) / (max U(A) - min U(A) + 1e-8)``,
    ``U`` the (bi/tri)linear upsampling with ``align_corners=True`` (the reference's)."""
    upsampled = F.interpolate(
        activations[:, None].float(), size=tuple(size), mode=LINEAR_MODES[len(size)], align_corners=True
    )
    flat = upsampled.flatten(1)
    shape = (-1, 1) + (1,) * len(size)
    low = flat.amin(dim=1).view(shape)
    high = flat.amax(dim=1).view(shape)
    return (upsampled - low) / (high - low + MASK_EPSILON)


class _ScorePlan:
    """Which (image, channel) pairs of one layer need a forward.

    With ``deduplicate``, a channel whose mask is zero everywhere (a constant channel, such as one
    that is zero everywhere or every channel of a 1x1 grid: the masked input is the zero image,
    scored once per batch) or equal to an earlier channel of the same image (same mask) is not
    scored again. A constant channel counts only when its mask, computed as the reference does, is
    exactly zero. ``slot[b, c]`` indexes the score of pair (b, c) in ``cat(job scores, zero-image scores)``."""

    def __init__(self, activations: torch.Tensor, deduplicate: bool, size: Sequence[int] = ()) -> None:
        batch, channels = activations.shape[:2]
        device = activations.device
        self.batch, self.channels = batch, channels
        if not deduplicate:
            self.owners = torch.arange(batch, device=device).repeat_interleave(channels)
            self.channels_of_jobs = torch.arange(channels, device=device).repeat(batch)
            self.slot = torch.arange(batch * channels, device=device).view(batch, channels)
            self.needs_zero_image = False
            return
        owners, picked, slots = [], [], []
        jobs = 0
        for image in range(batch):
            flat = activations[image].reshape(channels, -1)
            _, inverse = torch.unique(flat, dim=0, return_inverse=True)
            first = torch.full((int(inverse.max()) + 1,), channels, device=device).scatter_reduce(
                0, inverse, torch.arange(channels, device=device), reduce="amin"
            )
            zero = (flat[first] == flat[first][:, :1]).all(dim=1)  # constant channels: their masks are zero ...
            if zero.any() and size:  # ... where the reference's normalisation makes them exactly zero
                for part in torch.nonzero(zero).flatten().split(64):  # a few image-size masks at a time
                    zero[part] = (channel_masks(activations[image, first[part]], size).flatten(1) == 0).all(dim=1)
            keep = first[~zero]
            job_of_group = torch.cumsum((~zero).long(), 0) - 1 + jobs
            zero_slot = torch.full_like(job_of_group, -1 - image)  # resolved below, once the job count is known
            slots.append(torch.where(zero, zero_slot, job_of_group)[inverse])
            owners.append(torch.full_like(keep, image))
            picked.append(keep)
            jobs += int(keep.numel())
        self.owners = torch.cat(owners)
        self.channels_of_jobs = torch.cat(picked)
        slot = torch.stack(slots)
        self.needs_zero_image = bool((slot < 0).any())
        self.slot = torch.where(slot < 0, jobs - 1 - slot, slot)

    @property
    def jobs(self) -> int:
        return int(self.owners.numel())


def _masked_scores(
    call: MethodCall,
    activations: torch.Tensor,
    targets: list,
    plan: _ScorePlan,
    perturbations: Sequence[Callable[[torch.Tensor], torch.Tensor]],
    options: dict[str, Any],
    progress: Progress,
) -> torch.Tensor:
    """(B, C) scores ``mean_i target(x * p_i(M_c))`` over the mask perturbations ``p_i``."""
    x = call.input_tensor
    forward = _MaskedForward(call, options)
    owner_list = plan.owners.tolist()
    totals = torch.zeros(plan.jobs, device=x.device)
    chunks = MeasuredChunks(call.explainer.model, x, options["batch_size"])
    for perturb in perturbations:
        for part in chunks.slices(plan.jobs):
            owners = plan.owners[part]
            masks = perturb(channel_masks(activations[owners, plan.channels_of_jobs[part]], x.shape[2:]))
            with paired_rows(call.explainer.model, owners):
                outputs = forward(x[owners] * masks.to(x.dtype))
            totals[part] += score_rows(outputs, targets, owners, owner_list[part])
            progress.advance(len(owner_list[part]))
    scores = totals / len(perturbations)
    if plan.needs_zero_image:
        everyone = torch.arange(plan.batch, device=x.device)
        scores = torch.cat([scores, score_rows(forward(torch.zeros_like(x)), targets, everyone, everyone.tolist())])
    return scores[plan.slot]


class _MaskedForward:
    """The model's (selected) output for a chunk of masked images, optionally under float16 autocast,
    in channels-last layout when ``channels_last`` (see :class:`ChannelsLastForward`)."""

    def __init__(self, call: MethodCall, options: dict[str, Any]) -> None:
        self.selector = call.explainer.output_selector
        self.use_amp = bool(options["use_amp"])
        model = call.explainer.model
        own = ChannelsLastForward(model, enabled=bool(options["channels_last"]))
        # the folded copy of a model with batch norms (not with several inputs: their binding is on the model)
        self.forward = own if several_inputs_active(model) else TwinForward(model, own, bool(options["channels_last"]))

    def __call__(self, images: torch.Tensor) -> Any:
        with autocast_if(images.device, self.use_amp):
            return select_output(self.forward(images), self.selector)


def _score_family(
    call: MethodCall,
    method: str,
    perturbations: Callable[[dict[str, Any]], Sequence[Callable[[torch.Tensor], torch.Tensor]]],
    can_deduplicate: bool,
) -> torch.Tensor:
    """Shared body of Score-CAM, SS-CAM and IS-CAM: weights ``softmax_c(score_c)`` per layer."""
    options = call.options
    result, targets, spatial = _targets_and_layers(call)
    steps = perturbations(options)
    size = tuple(call.input_tensor.shape[2:])
    plans = [_ScorePlan(a, can_deduplicate and options.get("deduplicate", False), size) for a in spatial]
    copies = sum(len(steps) * plan.jobs for plan in plans)
    weights = []
    with (
        Progress(copies, method, call.progress, unit="img") as progress,
        evaluation_mode(call.explainer.model),
        torch.no_grad(),
    ):
        for activations, plan in zip(spatial, plans):
            scores = _masked_scores(call, activations, targets, plan, steps, options, progress)
            weights.append(torch.softmax(scores, dim=-1))
    return _finish(call, result, weights, spatial)


def scorecam(call: MethodCall) -> torch.Tensor:
    r"""Score-CAM (https://arxiv.org/abs/1910.01279): ``sum_k w_k A_k`` with
    ``w = softmax_k(y(x * M_k))``, ``M_k = (U(A_k) - min) / (max - min + 1e-8)`` the channel upsampled
    to the input (bilinear, align_corners) and min-max normalised, ``y`` the target's score.

    Options: ``batch_size`` (masked inputs per forward; default None: chosen from measured time, the
    reference's is 16; the maps are the same), ``deduplicate``
    (default True: all-zero and repeated channels are scored once; the result is the same),
    ``use_amp`` (float16 autocast for the masked forwards on CUDA)."""
    return _score_family(call, "ScoreCAM", lambda options: [_identity], True)


def _identity(masks: torch.Tensor) -> torch.Tensor:
    return masks


def sscam(call: MethodCall) -> torch.Tensor:
    r"""SS-CAM, smoothed Score-CAM (https://arxiv.org/abs/2006.14255): ``w = softmax_k(1/N sum_i
    y(x * (M_k + d_i)))`` with Gaussian noise ``d_i ~ N(0, std^2)`` per mask pixel, ``M_k`` as in
    Score-CAM. Defaults as torchcam: ``num_samples=35``, ``std=2.0``; ``batch_size`` as Score-CAM; ``seed`` (None:
    the global generator) makes it reproducible. With ``std=0`` it equals Score-CAM."""

    def noisy(options: dict[str, Any]) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        samples, std = _sample_count(options), float(options["std"])
        if std < 0:
            raise ValueError(f"SSCAM: std must be >= 0; got {std}")
        generator = None
        if options["seed"] is not None:
            generator = torch.Generator(device=call.input_tensor.device).manual_seed(int(options["seed"]))

        def add_noise(masks: torch.Tensor) -> torch.Tensor:
            noise = torch.randn(masks.shape, generator=generator, device=masks.device, dtype=masks.dtype)
            return masks + std * noise

        return [add_noise] * samples

    return _score_family(call, "SSCAM", noisy, False)


def iscam(call: MethodCall) -> torch.Tensor:
    r"""IS-CAM, integrated Score-CAM (https://arxiv.org/abs/2010.03023), as torchcam computes it:
    ``w = softmax_k(1/N sum_{i=1..N} y(x * a_i M_k))`` with ``a_i = sum_{j<=i} j / N = i (i + 1) / (2N)``.
    Defaults as torchcam: ``num_samples=10``; ``batch_size`` as Score-CAM. With ``num_samples=1`` it equals
    Score-CAM. ``deduplicate`` and ``use_amp`` as for Score-CAM."""

    def scaled(options: dict[str, Any]) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        samples = _sample_count(options)
        return [_scale_by(step * (step + 1) / (2 * samples)) for step in range(1, samples + 1)]

    return _score_family(call, "ISCAM", scaled, True)


def _scale_by(factor: float) -> Callable[[torch.Tensor], torch.Tensor]:
    return _identity if factor == 1.0 else lambda masks: masks * factor


def _sample_count(options: dict[str, Any]) -> int:
    samples = int(options["num_samples"])
    if samples < 1:
        raise ValueError(f"num_samples must be at least 1; got {options['num_samples']}")
    return samples


# ----------------------------------------------------------------------------------------------
# Ablation-CAM


class AblationLayer(nn.Module):
    """How AblationCAM ablates channel ``c`` of the target layer's output (the reference's rule).

    Copies of the output get channel ``c`` set to 0 when the image's output has minimum 0, else
    to a very negative value: within each chunk of ``batch_size`` copies, the ``k``-th copy gets
    ``m - (k + 1) 1e7`` (``m`` the output's minimum), the reference's running-minimum rule. The
    channel axis is 1, or the last axis for (B, N, C) token and channels-last outputs. It is never
    inserted into the model: AblationCAM hands the ablated copies on from a forward hook.
    Subclass and override :meth:`ablation_values` or :meth:`ablated_copies` to ablate differently.
    """

    channel_axis: int | None = None

    def forward(self, x: Any) -> Any:  # pragma: no cover - never part of a model
        raise RuntimeError(
            "ablation layers describe AblationCAM's ablation; pass one as AblationCAM(..., ablation_layer=...)"
        )

    def axis(self, output: torch.Tensor, channels: int) -> int:
        """The output's channel axis (``channels`` long)."""
        if self.channel_axis is not None:
            return self.channel_axis % output.ndim
        if output.ndim >= 2 and output.shape[1] == channels:
            return 1
        if output.shape[-1] == channels:
            return output.ndim - 1
        raise ValueError(
            f"cannot find the {channels} channels in the layer output of shape {tuple(output.shape)}; "
            "pass ablation_layer=AblationLayerVit() for channels-last outputs"
        )

    def ablation_values(self, output: Any, batch_size: int, positions: int) -> torch.Tensor:
        """(B, min(batch_size, positions)) values: entry ``[b, k]`` for the ``k``-th copy of a chunk."""
        current = output.flatten(1).amin(dim=1)
        values = []
        for _ in range(min(batch_size, positions)):
            value = torch.where(current == 0, torch.zeros_like(current), current - ABLATION_STEP)
            values.append(value)
            current = torch.minimum(current, value)
        return torch.stack(values, dim=1)

    def ablated_copies(
        self, output: Any, images: torch.Tensor, channels: torch.Tensor, values: torch.Tensor, total: int
    ) -> Any:
        """Copies ``output[images[r]]`` with channel ``channels[r]`` set to ``values[r]`` (indexing with a
        tensor already copies)."""
        copies = output[images]
        view = copies.movedim(self.axis(output, total), 1)
        rows = torch.arange(len(images), device=copies.device)
        view[rows, channels] = values.to(copies.dtype).view(-1, *[1] * (view.ndim - 2))
        return copies


class AblationLayerVit(AblationLayer):
    """:class:`AblationLayer` for (B, N, C) token outputs: the channel axis is the last one."""

    channel_axis = -1


class AblationLayerFasterRCNN(AblationLayer):
    """Ablation of an FPN's dict of feature maps (the channels of all levels in order, as
    ``fasterrcnn_reshape_transform`` concatenates them): the channel is set to -1000."""

    def ablation_values(self, output: Any, batch_size: int, positions: int) -> torch.Tensor:
        first = next(iter(output.values()))
        return torch.full((first.shape[0], 1), FPN_ABLATION_VALUE, device=first.device)

    def ablated_copies(
        self, output: Any, images: torch.Tensor, channels: torch.Tensor, values: torch.Tensor, total: int
    ) -> Any:
        copies, start = type(output)(), 0
        rows = torch.arange(len(images), device=images.device)
        for key, level in output.items():
            count = level.shape[1]
            level_copies = level[images]
            inside = (channels >= start) & (channels < start + count)
            level_copies[rows[inside], channels[inside] - start] = (
                values[inside].to(level.dtype).view(-1, *[1] * (level.ndim - 2))
            )
            copies[key] = level_copies
            start += count
        return copies


def _channel_order(activations: torch.Tensor, ratio: float) -> torch.Tensor:
    """The channels to ablate, in order: all (ratio 1), else the reference's objectiveness pick: the
    ``int(C * ratio)`` highest and lowest scoring channels, score = share of the channel's
    normalised magnitude inside the thresholded first-principal-component mask."""
    channels = activations.shape[0]
    if ratio == 1.0:
        return torch.arange(channels, device=activations.device)
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio_channels_to_ablate must be in (0, 1]; got {ratio}")
    projection = first_principal_component(activations[None].float())[0].abs()
    projection = projection - projection.min()
    mask = (projection / projection.max()) > OBJECTIVENESS_THRESHOLD
    magnitude = activations.abs().flatten(1).float()
    magnitude = magnitude - magnitude.amin(dim=1, keepdim=True)
    magnitude = magnitude / magnitude.amax(dim=1, keepdim=True)
    scores = (mask.flatten()[None] * magnitude).sum(dim=1) / magnitude.sum(dim=1)
    # ties (frequent on small maps) broken by numpy's sort, as the reference does: the same channels
    ascending = np.argsort(scores.cpu().numpy()).tolist()
    count = int(channels * ratio)
    picked = ascending[::-1][:count] + ascending[:count]
    return torch.tensor(list(dict.fromkeys(picked)), device=activations.device, dtype=torch.long)


@contextlib.contextmanager
def replaced_output(module: nn.Module, replacement: Any) -> Iterator[None]:
    """While inside, ``module``'s first output in each forward is replaced by ``replacement``."""
    calls = [0]

    def hook(_module: nn.Module, _inputs: Any, _output: Any) -> Any:
        calls[0] += 1
        return replacement if calls[0] == 1 else None

    with forward_hooks([(module, hook)]):
        yield


def _suffix_only(model: nn.Module, x: torch.Tensor, module: nn.Module, copies: Any, selector: Any, rows: int) -> Any:
    """The model's output for ``copies`` of the layer's output, running the layers before it on an
    empty batch (nothing to compute) and the rest on the copies."""
    with replaced_output(module, copies):
        outputs = select_output(model(x[:0]), selector)
    per_image_outputs(outputs, rows)
    return outputs


def _prefix_can_be_skipped(call: MethodCall, module: nn.Module, raw: Any, result: Any, targets: list) -> bool:
    """Probe: does the rest of the network, fed the unchanged captured output through the hook with
    an empty batch before it, reproduce the captured scores? False when a skip connection jumps over
    the layer, or something before it fixes the batch size (torch's shape error, or a row count that
    does not match, is caught). Any other exception is the model's own and propagates."""
    model, x = call.explainer.model, call.input_tensor
    everyone = torch.arange(x.shape[0], device=x.device)
    unchanged = {key: value.clone() for key, value in raw.items()} if isinstance(raw, dict) else raw.clone()
    try:  # a clone: in-place operations after the layer (ReLU(inplace=True)) must not reach the capture
        outputs = _suffix_only(model, x, module, unchanged, call.explainer.output_selector, x.shape[0])
        scores = score_rows(outputs, targets, everyone, everyone.tolist())
    except (RuntimeError, IndexError, BatchMismatch):  # shapes of an empty batch meeting a full one: use full forwards
        return False
    expected = result.scores.float()
    return bool(torch.allclose(scores, expected, rtol=1e-4, atol=1e-5 * max(1.0, float(expected.abs().max()))))


def _ablation_scores(
    call: MethodCall,
    module: nn.Module,
    raw: Any,
    channels: int,
    orders: list[torch.Tensor],
    result: Any,
    targets: list,
    options: dict[str, Any],
    progress: Progress,
) -> torch.Tensor:
    """(B, C) target scores with channel ``orders[b][p]`` of image ``b`` ablated in copy ``p`` (the
    original score for the channels not ablated)."""
    model, x = call.explainer.model, call.input_tensor
    layer: AblationLayer = options["ablation_layer"]
    size = options["batch_size"]
    values = layer.ablation_values(raw, size, max(1, max(len(order) for order in orders)))
    owners = torch.cat([torch.full_like(order, image) for image, order in enumerate(orders)])
    picked = torch.cat(orders)
    positions = torch.cat([torch.arange(len(order), device=x.device) for order in orders])
    job_values = values[owners, (positions % size).clamp(max=values.shape[1] - 1)]
    reuse = (
        bool(options["reuse_prefix"])
        and not several_inputs_active(model)  # the other inputs' branches run on every row
        and _prefix_can_be_skipped(call, module, raw, result, targets)
    )
    owner_list = owners.tolist()
    scores = result.scores.float()[:, None].repeat(1, channels)
    for part in _chunks(len(owner_list), size):
        copies = layer.ablated_copies(raw, owners[part], picked[part], job_values[part], channels)
        if reuse:
            outputs = _suffix_only(model, x, module, copies, call.explainer.output_selector, len(owner_list[part]))
        else:
            with replaced_output(module, copies), paired_rows(model, owners[part]):
                outputs = select_output(model(x[owners[part]]), call.explainer.output_selector)
        scores[owners[part], picked[part]] = score_rows(outputs, targets, owners[part], owner_list[part])
        progress.advance()
    return scores


def ablationcam(call: MethodCall) -> torch.Tensor:
    r"""Ablation-CAM (Desai & Ramaswamy, WACV 2020): ``sum_k w_k A_k`` with ``w_k = (y - y_k) / y``,
    ``y`` the target's score and ``y_k`` its score with channel ``k`` of the layer's output ablated.

    Options: ``batch_size`` (ablated copies per forward, default 32), ``ratio_channels_to_ablate``
    (default 1.0; below it, the reference's objectiveness pick of channels, the others get weight 0),
    ``ablation_layer`` (:class:`AblationLayer`: how a channel is ablated) and ``reuse_prefix``
    (default True: when the probe shows the rest of the network depends on the layer's output only,
    the layers before it run once, and only the rest runs on the ablated copies)."""
    options = call.options
    result, targets, spatial = _targets_and_layers(call)
    ratio = float(options["ratio_channels_to_ablate"])
    orders = [[_channel_order(image, ratio) for image in activations] for activations in spatial]
    chunks = sum(math.ceil(sum(len(order) for order in layer) / options["batch_size"]) for layer in orders)
    weights = []
    with (
        Progress(chunks, "AblationCAM", call.progress) as progress,
        evaluation_mode(call.explainer.model),
        torch.no_grad(),
    ):
        for (_, module), record, activations, layer_orders in zip(
            call.explainer.layers, result.records, spatial, orders
        ):
            ablated = _ablation_scores(
                call, module, record.activation, activations.shape[1], layer_orders, result, targets, options, progress
            )
            original = result.scores.float()[:, None]
            weights.append((original - ablated) / original)
    return _finish(call, result, weights, spatial)


def check_ablation_options(options: dict[str, Any]) -> None:
    """``batch_size`` as :func:`check_batch_size`; ``ablation_layer`` None becomes an :class:`AblationLayer`."""
    check_batch_size(options)
    if options["ablation_layer"] is None:
        options["ablation_layer"] = AblationLayer()
    if not isinstance(options["ablation_layer"], AblationLayer):
        raise TypeError(
            f"ablation_layer must be an AblationLayer (or AblationLayerVit, AblationLayerFasterRCNN, or a subclass); "
            f"got {type(options['ablation_layer']).__name__}"
        )


def _perturbation(
    name: str,
    class_name: str,
    cost: float,
    run: Any,
    summary: str,
    paper: str,
    passes: Any,
    keyword_only: tuple[str, ...] | None = None,
    check: Any = None,
) -> MethodSpec:
    """A perturbation method's spec; ``check`` validates its options (default: a batch size, None measured)."""
    options = OPTIONS[name]
    return MethodSpec(
        name=name, class_name=class_name, family="perturbation", needs_gradients=False, cost=cost, run=run, summary=summary, paper=paper,
        options=options, keyword_only=tuple(options) if keyword_only is None else keyword_only, check=check or _measured_batch_size, passes=passes,
    )  # fmt: skip


def _measured_batch_size(options: dict[str, Any]) -> None:
    check_batch_size(options, measured=True)


def _masked_passes(options: Mapping[str, Any], channels: int) -> float:
    """Score-CAM family: one masked forward per channel (and per noise or scale sample), plus the capture."""
    return channels * options.get("num_samples", 1) + 1


def _ablation_passes(options: Mapping[str, Any], channels: int) -> float:
    """Ablation-CAM: one forward per ablated channel (of the layers after the target only, with ``reuse_prefix``)."""
    return max(1, round(channels * float(options["ratio_channels_to_ablate"]))) + 1


SPECS = (
    _perturbation("scorecam", "ScoreCAM", 512.0, scorecam, "channel weights = softmax of the scores of channel-masked inputs", "https://arxiv.org/abs/1910.01279", _masked_passes),
    _perturbation("sscam", "SSCAM", 512.0 * 35, sscam, "Score-CAM with noise-smoothed masks", "https://arxiv.org/abs/2006.14255", _masked_passes),
    _perturbation("iscam", "ISCAM", 512.0 * 10, iscam, "Score-CAM integrated over scaled masks", "https://arxiv.org/abs/2010.03023", _masked_passes),
    _perturbation(
        "ablationcam", "AblationCAM", 16.0, ablationcam, "channel weights = relative score drop when the channel is ablated",
        "https://openaccess.thecvf.com/content_WACV_2020/papers/Desai_Ablation-CAM_Visual_Explanations_for_Deep_Convolutional_Network_via_Gradient-free_Localization_WACV_2020_paper.pdf",
        _ablation_passes, keyword_only=("reuse_prefix",), check=check_ablation_options,
    ),
)  # fmt: skip
