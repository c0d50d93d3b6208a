r"""SESS: Saliency Enhancing with Scaling and Sliding (https://arxiv.org/abs/2207.01769).

The image is resized so that its shorter side takes each of several scales, a square window slides
over every scaled image, and the base method explains every patch. Each patch map, weighted by its
patch's target score divided by the image's best patch score, is pasted back where it came from,
resized to the image, and the pasted maps are fused per pixel (a mean over the patches whose value
there exceeds ``theta``, or a max), then blurred (Gaussian, 11x11, sigma 5).

Batched: the windows are the same for every image of the batch, so patches of all images are scored
and explained together in chunks of ``batch_size``. Pasting and resizing a patch map is linear, so it
is done as ``R_y[:, rows] @ map @ R_x[:, cols]^T`` with the bilinear resize matrices of the scaled
image, with no canvas of the scaled size. Everything stays on the model's device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..blur import gaussian_blur
from ..capture import target_score
from ..inputs import paired_rows
from ..maps import normalise
from ..modules import evaluation_mode, per_image_outputs, select_output
from ..progress import Progress
from .registry import MethodCall, MethodSpec, base_spec
from .wrappers import inner_explainer

__all__ = ["sess", "check_sess_options", "window_starts", "sliding_window", "scaled_size", "SESS_DEFAULTS", "SPECS"]

SESS_DEFAULTS: dict[str, Any] = {
    "scales": None,
    "num_scales": 12,
    "scale_step_ratio": 2.0 / 7.0,
    "window_size": None,
    "step_size": None,
    "pre_filter_ratio": 0.0,
    "theta": 0.0,
    "pool": "mean",
    "smooth": True,
    "use_softmax_scores": True,
    "batch_size": 32,
}
BLUR_SIZE, BLUR_SIGMA = 11, 5.0


def check_sess_options(options: dict) -> None:
    """Clear errors for SESS parameters out of range."""
    if options["pool"] not in ("mean", "max"):
        raise ValueError(f"pool must be 'mean' (spatial weighted average) or 'max'; got {options['pool']!r}")
    if not 0.0 <= options["pre_filter_ratio"] < 1.0:
        raise ValueError(
            f"pre_filter_ratio is the share of lowest-scoring patches dropped, in [0, 1); got {options['pre_filter_ratio']!r}"
        )
    if options["num_scales"] < 1:
        raise ValueError(f"num_scales must be at least 1; got {options['num_scales']!r}")
    if options["batch_size"] < 1:
        raise ValueError(f"batch_size must be at least 1; got {options['batch_size']!r}")


def window_starts(length: int, step: int, window: int) -> list[int]:
    """Window offsets along one axis: every ``step`` while the window ends inside, then one window
    flush with the far border (reached only if a step lands on or past ``length - window``)."""
    offsets = list(range(0, length, step))
    inside = [start for start in offsets if start + window < length]
    return inside + [max(length - window, 0)] if len(inside) < len(offsets) else inside


def sliding_window(height: int, width: int, step_size: int, window_size: int) -> list[tuple[int, int]]:
    """Top-left corners ``(x, y)`` of the square windows covering a ``height x width`` image, row by
    row (the reference's order), each axis by :func:`window_starts`."""
    return [
        (x, y)
        for y in window_starts(height, step_size, window_size)
        for x in window_starts(width, step_size, window_size)
    ]


def scaled_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(height, width) with the shorter side resized to ``short_side`` and the aspect ratio kept
    (the longer side rounded down), as ``torchvision.transforms.functional.resize(img, int)``."""
    if width <= height:
        return int(short_side * height / width), short_side
    return short_side, int(short_side * width / height)


def _resize_matrix(source: int, target: int, device: torch.device) -> torch.Tensor:
    """(target, source) float32 matrix ``R`` with ``R @ v`` = bilinear resize of a 1-D signal (half-pixel
    centres, no antialiasing: OpenCV's INTER_LINEAR)."""
    eye = torch.eye(source, device=device, dtype=torch.float32).reshape(source, 1, 1, source)
    return F.interpolate(eye, size=(1, target), mode="bilinear", align_corners=False).reshape(source, target).T


@dataclass
class _Windows:
    """Every window of every scale: its scale's index, top row and left column, and per scale the
    scaled batch and its resize matrices back to the image (rows: (H, h_s), columns: (W, w_s))."""

    size: int
    scale_index: list[int]
    top: list[int]
    left: list[int]
    scaled: list[torch.Tensor]
    rows: list[torch.Tensor]
    columns: list[torch.Tensor]

    def __len__(self) -> int:
        return len(self.top)

    def patches(self, images: Sequence[int], windows: Sequence[int]) -> torch.Tensor:
        w = self.size
        return torch.stack(
            [
                self.scaled[self.scale_index[n]][b, :, self.top[n] : self.top[n] + w, self.left[n] : self.left[n] + w]
                for b, n in zip(images, windows)
            ]
        )

    def paste(self, maps: torch.Tensor, windows: Sequence[int]) -> torch.Tensor:
        """(n, w, w) patch maps placed in their scaled images and resized to the image: (n, H, W)."""
        w = self.size
        rows = torch.stack([self.rows[self.scale_index[n]][:, self.top[n] : self.top[n] + w] for n in windows])
        columns = torch.stack([self.columns[self.scale_index[n]][:, self.left[n] : self.left[n] + w] for n in windows])
        return rows @ maps @ columns.transpose(1, 2)


def _windows(x: torch.Tensor, options: dict) -> _Windows:
    height, width = x.shape[-2:]
    window = options["window_size"] or min(height, width)
    step = options["step_size"] or window
    scales = options["scales"]
    if scales is None:
        increment = int(round(window * options["scale_step_ratio"]))
        scales = [window + increment * i for i in range(options["num_scales"])]
    found = _Windows(window, [], [], [], [], [], [])
    for index, scale in enumerate(scales):
        if scale < window:
            raise ValueError(f"every scale must be at least the window size {window}; got {scale}")
        new_height, new_width = scaled_size(height, width, int(scale))
        same = (new_height, new_width) == (height, width)
        # resized in float32 (antialiased resizing has no bfloat16/float16 kernels), fed to the model in its dtype
        found.scaled.append(
            x
            if same
            else F.interpolate(
                x.float(), size=(new_height, new_width), mode="bilinear", align_corners=False, antialias=True
            ).to(x.dtype)
        )
        found.rows.append(_resize_matrix(new_height, height, x.device))
        found.columns.append(_resize_matrix(new_width, width, x.device))
        for top in window_starts(new_height, step, window):
            for left in window_starts(new_width, step, window):
                found.scale_index.append(index)
                found.top.append(top)
                found.left.append(left)
    return found


def _chunks(count: int, size: int) -> list[range]:
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def _patch_scores(
    call: MethodCall, windows: _Windows, targets: list, options: dict, progress: Progress
) -> torch.Tensor:
    """(B, N) target score of every window of every image (of the softmax unless told otherwise), clipped at 0."""
    explainer = call.explainer
    batch, count = call.input_tensor.shape[0], len(windows)
    scores = []
    for chunk in _chunks(batch * count, options["batch_size"]):
        images, indices = [p // count for p in chunk], [p % count for p in chunk]
        with evaluation_mode(explainer.model), torch.no_grad(), paired_rows(explainer.model, images):
            outputs = select_output(explainer.model(windows.patches(images, indices)), explainer.output_selector)
            rows = per_image_outputs(outputs, len(chunk))
            if options["use_softmax_scores"]:
                rows = torch.softmax(rows, dim=-1)
            scores.extend(target_score(targets[b], row, b) for b, row in zip(images, rows))
        progress.advance()
    return torch.stack(scores).reshape(batch, count).clamp(min=0)


def sess(call: MethodCall) -> torch.Tensor:
    r"""SESS (https://arxiv.org/abs/2207.01769): ``blur(sum_p [m_p > theta] m_p / sum_p [m_p > theta])``
    over the patches ``p`` of a sliding window on several scales of the image, ``m_p`` the base
    method's patch map weighted by ``score_p / max_p score_p`` and pasted back at the image size
    (or the max over ``m_p`` with ``pool='max'``). The lowest-scoring ``pre_filter_ratio`` of the
    patches are left out."""
    options = call.options
    explainer = call.explainer
    x = call.input_tensor.detach()
    targets = call.targets or explainer.capture(x, None, need_gradients=False).targets
    if targets is None:
        raise ValueError("SESS needs targets for a model whose output is not (B, classes) scores")
    windows = _windows(x, options)
    batch, count = x.shape[0], len(windows)
    kept = count - int(count * options["pre_filter_ratio"])
    size = options["batch_size"]
    steps = len(_chunks(batch * count, size)) + len(_chunks(batch * kept, size))
    spec = base_spec(options["base_method"])
    inner = inner_explainer(explainer)
    total = x.new_zeros(batch, *x.shape[-2:], dtype=torch.float32)  # maps in float32 for any model dtype
    counts = torch.zeros_like(total)
    with Progress(steps, "SESS patches", call.progress) as progress:
        scores = _patch_scores(call, windows, targets, options, progress)
        order = torch.argsort(scores, dim=1, stable=True)[:, count - kept :]
        best = scores.amax(dim=1, keepdim=True)
        weights = torch.where(
            best > 0, scores.gather(1, order) / best.clamp(min=torch.finfo(scores.dtype).tiny), torch.ones_like(best)
        )
        for chunk in _chunks(batch * kept, size):
            images = [p // kept for p in chunk]
            indices = order.reshape(-1)[list(chunk)].tolist()
            with paired_rows(explainer.model, images):
                maps = inner.compute(
                    spec, windows.patches(images, indices), [targets[b] for b in images],
                    eigen_smooth=call.eigen_smooth, options=options["base_options"], progress=False,
                )  # fmt: skip
            maps = maps * weights.reshape(-1)[list(chunk)].to(maps.dtype)[:, None, None]
            pasted = windows.paste(maps.to(total.dtype), indices)
            where = torch.tensor(images, device=total.device)
            if options["pool"] == "max":
                total.index_reduce_(0, where, pasted, "amax")
            else:
                above = pasted > options["theta"]
                total.index_add_(0, where, torch.where(above, pasted, torch.zeros_like(pasted)))
                counts.index_add_(0, where, above.to(counts.dtype))
            progress.advance()
    fused = (
        total
        if options["pool"] == "max"
        else torch.where(counts > 0, total / counts.clamp(min=1), torch.zeros_like(total))
    )
    if options["smooth"]:
        fused = gaussian_blur(fused[:, None], BLUR_SIZE, BLUR_SIGMA)[
            :, 0
        ]  # OpenCV's GaussianBlur(m, (11, 11), 5), reflect-101 borders
    return normalise(fused, explainer.normalise)


SPECS = (
    MethodSpec(
        name="sess", class_name="SESS", family="perturbation", needs_gradients=True, cost=300.0, run=sess,
        summary="base method on sliding windows over several scales, fused", paper="https://arxiv.org/abs/2207.01769",
        options={"base_method": "gradcam", **SESS_DEFAULTS, "base_options": {}}, keyword_only=("base_options",), check=check_sess_options,
        input_axes=(2,),  # square windows over an image's scales
    ),
)  # fmt: skip
