"""Speed of GradCAM on volumes and clips: against grad-cam 1.5.7 and MONAI 1.6.1, and against a plain
forward and backward, in one process.

* Volumes: a batch of 2 volumes of 1 x 32 x 64 x 64 voxels through the shipped SolidsCNN (its
  suggested layer ``features.3``) and through MONAI's own 3-D ``resnet18`` (seeded random weights,
  ``layer4``). Ours (constructed in the timed region, as users call it), grad-cam's ``GradCAM``
  (likewise) and MONAI's ``monai.visualize.GradCAM`` (constructed once on its own copy of the model:
  it keeps its hooks on the module it wraps).
* Clips: torchvision's ``r3d_18`` (seeded random weights) on 4 clips of 16 frames of 112 px, its
  suggested layer.

The baselines of each round: ``forward`` (``no_grad``) and ``forward + backward`` (the top score's
gradient with respect to the parameters, as one training step computes it). Rounds interleave
every contender, alternating their order; each ratio is the median over rounds of the two times of
the same round. Targets: ours at least 3x faster than grad-cam and than MONAI on volumes, and at
most 1.1x a forward and backward on both workloads.

    .venv/bin/python bench/spacetime.py              # 9 rounds
    .venv/bin/python bench/spacetime.py --quick      # 2 rounds, a smoke test

Prints the table and writes bench/results/spacetime.md.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from report import publish, verdict_lines

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import camwidgets as cw  # noqa: E402
from camwidgets.data.spacetime_models import SOLIDS_CNN_LAYER, load_solids_cnn  # noqa: E402
from camwidgets.engine import suggest_target_layer  # noqa: E402

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "spacetime.md"
MIN_SPEEDUP = 3.0
MAX_OVER_TRAINING_STEP = 1.1


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def forward(model: torch.nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        model(x)


def forward_backward(model: torch.nn.Module, x: torch.Tensor) -> None:
    """The top scores' gradient with respect to the parameters (a training step's work)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    torch.autograd.grad(model(x).max(dim=1).values.sum(), parameters)


def ours(model: torch.nn.Module, layer: str, x: torch.Tensor) -> np.ndarray:
    return cw.GradCAM(model, [layer])(x)


def reference(model: torch.nn.Module, layer: str, x: torch.Tensor) -> np.ndarray:
    import pytorch_grad_cam

    module = dict(model.named_modules())[layer]
    with pytorch_grad_cam.GradCAM(model=model, target_layers=[module]) as cam:
        return cam(x, targets=None)


def rounds(contenders: dict[str, Callable[[], object]], count: int) -> dict[str, list[float]]:
    """Each contender once per round after one warm-up, in an order that alternates round by round."""
    names = list(contenders)
    for name in names:
        contenders[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for index in range(count):
        for name in names if index % 2 == 0 else reversed(names):
            times[name].append(timed(contenders[name]))
    return times


def ratio(times: dict[str, list[float]], numerator: str, denominator: str) -> float:
    return statistics.median(a / b for a, b in zip(times[numerator], times[denominator]))


def solids_cnn() -> tuple[torch.nn.Module, str, str]:
    return load_solids_cnn()[0], SOLIDS_CNN_LAYER, "SolidsCNN (shipped)"


def monai_resnet18() -> tuple[torch.nn.Module, str, str]:
    from monai.networks.nets import resnet18

    torch.manual_seed(0)
    return (
        resnet18(spatial_dims=3, n_input_channels=1, num_classes=2).eval(),
        "layer4",
        "MONAI resnet18, 3-D (random weights)",
    )


def volume_workload(build: Callable, count: int) -> tuple[list[str], dict]:
    import monai.visualize

    model, layer, name = build()
    x = torch.randn(2, 1, 32, 64, 64, generator=torch.Generator().manual_seed(0))
    twin = copy.deepcopy(model)
    monai_cam = monai.visualize.GradCAM(twin, target_layers=layer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = ours(model, layer, x)
        theirs = 1.0 - monai_cam(x).squeeze(1).detach().numpy()
        spline = reference(model, layer, x)
        times = rounds(
            {
                "forward": lambda: forward(model, x),
                "forward + backward": lambda: forward_backward(model, x),
                "camwidgets": lambda: ours(model, layer, x),
                "grad-cam 1.5.7": lambda: reference(model, layer, x),
                "MONAI 1.6.1": lambda: monai_cam(x),
            },
            count,
        )
    return [
        f"| {name}, 2 volumes 1x32x64x64, `{layer}` | {statistics.median(times['camwidgets']) * 1000:.0f} ms "
        f"| {ratio(times, 'camwidgets', 'forward'):.2f} | {ratio(times, 'camwidgets', 'forward + backward'):.2f} "
        f"| {ratio(times, 'grad-cam 1.5.7', 'camwidgets'):.1f}x | {ratio(times, 'MONAI 1.6.1', 'camwidgets'):.1f}x "
        f"| {np.abs(mine - theirs).max():.1e} (MONAI), {np.abs(mine - spline).max():.2f} (grad-cam's spline) |"
    ], times


def clip_workload(count: int) -> tuple[list[str], dict]:
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.video.r3d_18(weights=None).eval()
    x = torch.randn(4, 3, 16, 112, 112, generator=torch.Generator().manual_seed(0))
    layer = suggest_target_layer(model, x)
    times = rounds(
        {
            "forward": lambda: forward(model, x),
            "forward + backward": lambda: forward_backward(model, x),
            "camwidgets": lambda: ours(model, layer, x),
        },
        count,
    )
    return [
        f"| r3d_18 (random weights), 4 clips 3x16x112x112, `{layer}` | {statistics.median(times['camwidgets']) * 1000:.0f} ms "
        f"| {ratio(times, 'camwidgets', 'forward'):.2f} | {ratio(times, 'camwidgets', 'forward + backward'):.2f} | — | — | — |"
    ], times


def verdicts(volumes: dict[str, dict], clip: dict) -> list[str]:
    checks = []
    for name, times in volumes.items():
        checks += [
            (f"{name}: grad-cam / ours", ratio(times, "grad-cam 1.5.7", "camwidgets"), ">=", MIN_SPEEDUP),
            (f"{name}: MONAI / ours", ratio(times, "MONAI 1.6.1", "camwidgets"), ">=", MIN_SPEEDUP),
            (f"{name}: ours / (forward + backward)", ratio(times, "camwidgets", "forward + backward"), "<=", MAX_OVER_TRAINING_STEP),
        ]  # fmt: skip
    checks.append(
        (
            "r3d_18: ours / (forward + backward)",
            ratio(clip, "camwidgets", "forward + backward"),
            "<=",
            MAX_OVER_TRAINING_STEP,
        )
    )
    return verdict_lines(checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds (a smoke test)")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    count = 2 if args.quick else args.rounds
    volume_rows, volumes = [], {}
    for build in (solids_cnn, monai_resnet18):
        rows, times = volume_workload(build, count)
        volume_rows += rows
        volumes[build.__name__] = times
    clip_rows, clip = clip_workload(count)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = "\n".join(
        [
            f"# GradCAM on volumes and clips ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)",
            "",
            f"CPU, {torch.get_num_threads()} threads, {os.cpu_count()} cores ({platform.processor() or platform.machine()}), load {load:.1f} at the end; "
            f"torch {torch.__version__}; {count} rounds, medians of per-round ratios."
            + (" Quick smoke run: too few rounds for conclusions." if args.quick else ""),
            "",
            "| workload | ours (median) | ours / forward | ours / (forward + backward) | grad-cam / ours | MONAI / ours | max difference |",
            "|---|---|---|---|---|---|---|",
            *volume_rows,
            *clip_rows,
            "",
            *verdicts(volumes, clip),
            "",
        ]
    )
    publish(text, RESULTS_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
