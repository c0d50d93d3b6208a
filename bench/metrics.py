"""Speed of camwidgets' faithfulness metrics against grad-cam 1.5.7's, measured in one run.

Workload: the pretrained mobilenet_v2 on the bundled photos at 224x224 (batch 8), GradCAM maps at
``features[-1]`` computed once, each image's top class as the target (scored by its probability).
Both libraries get the same batch, maps and targets; rounds of (ours, reference) are interleaved,
the order swapped every other round, and the speed-up is the median of per-round ratios.

* ROADCombined over 4 percentiles (20, 40, 60, 80): target ≥ 8x. Its imputation adds noise, so
  the agreement column is the difference of the batch means (issue target: within 1e-2), and the
  scores with the noise set to 0 (max over images).
* CamMultImageConfidenceChange: target ≥ 1x (at least as fast); max |ours - ref| over images.

    .venv/bin/python bench/metrics.py              # 7 rounds
    .venv/bin/python bench/metrics.py --repeats 3  # quicker
The table is printed and written to bench/results/metrics.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import one_minute_load, publish, spread  # noqa: E402
from run import build_mobilenet_v2, load_average, machine_description, timed  # noqa: E402  (the shared workload and timing)

import camwidgets as cw  # noqa: E402

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "metrics.md"
PERCENTILES = [20, 40, 60, 80]
BATCH = 8


@dataclass
class MetricCase:
    """One metric: how to call ours and the reference's, the target speed-up, and how outputs compare."""

    name: str
    ours: Callable[[], Any]
    reference: Callable[[], Any]
    min_speedup: float
    agreement: Callable[[Any, Any], str]
    ours_times: list[float] = field(default_factory=list)
    reference_times: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)  # the 1-minute load average after each round

    @property
    def speedups(self) -> list[float]:
        return [r / o for r, o in zip(self.reference_times, self.ours_times)]

    @property
    def speedup(self) -> float:
        return statistics.median(self.speedups)


def _largest_difference(ours: Any, theirs: Any) -> float:
    return float(np.abs(np.asarray(ours, dtype=np.float64) - np.asarray(theirs, dtype=np.float64)).max())


def _max_difference(ours: Any, theirs: Any) -> str:
    return f"max |ours - ref| = {_largest_difference(ours, theirs):.1e}"


def _road_agreement(ours: Any, theirs: Any) -> str:
    return f"|mean ours - mean ref| = {abs(float(np.mean(ours)) - float(np.mean(theirs))):.1e}"


def build_cases(device: torch.device) -> tuple[list[MetricCase], str]:
    """The workload (mobilenet_v2, batch 8, GradCAM maps) and the two metric cases on it."""
    import pytorch_grad_cam.metrics.cam_mult_image as reference_cam_mult
    import pytorch_grad_cam.metrics.road as reference_road

    workload = build_mobilenet_v2(BATCH)
    model = workload.model.to(device)
    x = workload.batch.to(device)
    with torch.no_grad():
        classes = model(x).argmax(dim=1).tolist()
    maps = cw.GradCAM(model, [workload.layer])(x, [cw.ClassifierOutputTarget(c) for c in classes])
    targets = [cw.ClassifierOutputSoftmaxTarget(c) for c in classes]
    ours_road = cw.ROADCombined(percentiles=PERCENTILES)
    ours_road_exact = cw.ROADCombined(percentiles=PERCENTILES, noise=0.0)
    theirs_road = reference_road.ROADCombined(percentiles=PERCENTILES)

    def road_agreement(ours: Any, theirs: Any) -> str:
        exact = _noise_free_difference(ours_road_exact, reference_road, x, maps, targets, model)
        return f"{_road_agreement(ours, theirs)}; noise 0: max |ours - ref| = {exact:.1e}"

    cases = [
        MetricCase(
            f"ROADCombined ({len(PERCENTILES)} percentiles)",
            lambda: ours_road(x, maps, targets, model),
            lambda: theirs_road(x, maps, targets, model),
            8.0,
            road_agreement,
        ),
        MetricCase(
            "CamMultImageConfidenceChange",
            lambda: cw.CamMultImageConfidenceChange()(x, maps, targets, model),
            lambda: reference_cam_mult.CamMultImageConfidenceChange()(x, maps, targets, model),
            1.0,
            _max_difference,
        ),
    ]
    return cases, f"{workload.name} batch {len(x)} at {tuple(x.shape[2:])}, GradCAM maps at features[-1]"


def _noise_free_difference(
    ours_exact: Any, reference_road: Any, x: torch.Tensor, maps: np.ndarray, targets: list, model: torch.nn.Module
) -> float:
    """ROADCombined with the imputation noise set to 0 in both libraries: the largest per-image difference."""
    imputer = reference_road.NoisyLinearImputer
    original = imputer.__init__.__defaults__
    imputer.__init__.__defaults__ = tuple(0.0 if isinstance(v, float) else v for v in original)
    try:
        theirs = reference_road.ROADCombined(percentiles=PERCENTILES)(x, maps, targets, model)
    finally:
        imputer.__init__.__defaults__ = original
    return _largest_difference(ours_exact(x, maps, targets, model), theirs)


def measure(cases: list[MetricCase], repeats: int, device: torch.device) -> dict[str, str]:
    agreement = {}
    for case in cases:
        agreement[case.name] = case.agreement(case.ours(), case.reference())  # warm-up of both, compared
        for round_index in range(repeats):
            order = ("ours", "reference") if round_index % 2 == 0 else ("reference", "ours")
            for side in order:
                seconds, _ = timed(getattr(case, side), device)
                getattr(case, f"{side}_times").append(seconds)
            case.loads.append(one_minute_load())
    return agreement


def report(
    cases: list[MetricCase],
    agreement: dict[str, str],
    workload: str,
    repeats: int,
    device: torch.device,
    title: str = "Metrics against grad-cam 1.5.7",
    against: str = "grad-cam 1.5.7",
    first_column: str = "metric",
) -> str:
    lines = [
        f"### {title} ({workload}; median of {repeats} interleaved rounds)",
        "",
        f"| {first_column} | speed-up vs {against}, median (min–max) | target | agreement | medians on this machine, s (ours / ref) | load during the rounds |",
        "|---|---:|---|---|---|---|",
    ]
    for case in cases:
        verdict = "met" if case.speedup >= case.min_speedup else "NOT met"
        medians = f"{statistics.median(case.ours_times):.3f} / {statistics.median(case.reference_times):.3f}"
        lines.append(
            f"| {case.name} | {spread(case.speedups)} | ≥ {case.min_speedup:.0f}x: {verdict} | {agreement[case.name]} | {medians} "
            f"| {min(case.loads):.1f}–{max(case.loads):.1f} |"
        )
    lines += ["", *machine_description(device), f"- load average (1/5/15 min) after: {load_average()}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    warnings.filterwarnings("ignore")
    cases, workload = build_cases(device)
    agreement = measure(cases, args.repeats, device)
    text = report(cases, agreement, workload, args.repeats, device)
    publish(text, RESULTS_FILE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
