"""Speed of the Score-CAM family against the libraries that have it, measured in one run.

* ScoreCAM against grad-cam 1.5.7 (its ``ScoreCAM``, a forward per channel in batches of 16): the
  pretrained mobilenet_v2 at ``features[-1]`` (1280 channels) on one and on four bundled photos, and
  resnet50 with seeded weights at ``layer4[-1]`` (2048 channels) on one photo (``--heavy`` adds four:
  the reference then needs about 7 minutes a round here). Target: ≥ 2x, maps within 1e-4.
* SSCAM and ISCAM against torchcam 0.5.0 (grad-cam has neither): the same work on both sides, a
  forward per channel and sample; ``num_samples`` is cut to 2 on both (from 35 and 10) so that a round
  takes minutes rather than an hour: the ratio is that of the per-sample loops. Target: ≥ 2x. Their
  maps are not expected to agree: torchcam upsamples with ``align_corners=False`` and normalises
  before upsampling, and SSCAM's noise is drawn differently; the column shows how far apart they are.

Each image's top class is the target. Rounds of (ours, reference) are interleaved, the order swapped
every other round, after one warm-up of each; the speed-up is the median of the per-round ratios.

    .venv/bin/python bench/score_family.py              # 5 rounds
    .venv/bin/python bench/score_family.py --repeats 3 --heavy

The table is printed and written to bench/results/score_family.md.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrics import MetricCase, _max_difference, measure, report  # noqa: E402  (interleaved rounds and their table)
from report import publish  # noqa: E402
from run import Workload, build_mobilenet_v2, build_resnet50  # noqa: E402  (the shared workloads)

import camwidgets as cw  # noqa: E402

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "score_family.md"
SAMPLES = 2
MIN_SPEEDUP = 2.0


def _top_classes(workload: Workload) -> list[int]:
    with torch.no_grad():
        return workload.model(workload.batch).argmax(dim=1).tolist()


def _reference_scorecam(workload: Workload) -> Callable[[], np.ndarray]:
    from pytorch_grad_cam import ScoreCAM

    def run() -> np.ndarray:
        with ScoreCAM(workload.model, target_layers=[workload.layer]) as cam:
            return cam(workload.batch, targets=None)

    return run


def _torchcam(method: str, workload: Workload, classes: list[int]) -> Callable[[], np.ndarray]:
    """torchcam's extractor as its documentation calls it, its maps resized to the input and min-max
    normalised per image (as ours are) so the two can be compared."""
    import torchcam.methods as torchcam_methods

    def run() -> np.ndarray:
        extractor_class = getattr(torchcam_methods, method)
        shape = tuple(workload.batch.shape[1:])
        with extractor_class(workload.model, [workload.layer], num_samples=SAMPLES, input_shape=shape) as extractor:
            with torch.no_grad():
                scores = workload.model(workload.batch)
            maps = extractor(class_idx=classes, scores=scores)[0]
        maps = F.interpolate(maps[:, None], size=shape[1:], mode="bilinear", align_corners=False)[:, 0]
        low = maps.flatten(1).amin(1)[:, None, None]
        high = maps.flatten(1).amax(1)[:, None, None]
        return ((maps - low) / (high - low + 1e-7)).numpy()

    return run


def _ours(method: str, workload: Workload, **options: Any) -> Callable[[], np.ndarray]:
    def run() -> np.ndarray:
        return getattr(cw, method)(workload.model, [workload.layer], progress=False, **options)(workload.batch)

    return run


def build_cases(heavy: bool) -> tuple[list[MetricCase], list[MetricCase]]:
    """(ScoreCAM against grad-cam, SSCAM and ISCAM against torchcam)."""
    workloads = [build_mobilenet_v2(1), build_mobilenet_v2(4), build_resnet50(1)] + (
        [build_resnet50(4)] if heavy else []
    )
    scorecam = [
        MetricCase(
            f"ScoreCAM, {w.name}, {len(w.batch)} image(s)",
            _ours("ScoreCAM", w),
            _reference_scorecam(w),
            MIN_SPEEDUP,
            _max_difference,
        )
        for w in workloads
    ]
    smoothed = []
    for w in workloads[:1] + workloads[2:3] * heavy:
        classes = _top_classes(w)
        for method in ("SSCAM", "ISCAM"):
            smoothed.append(
                MetricCase(
                    f"{method}, {w.name}, {len(w.batch)} image(s), num_samples={SAMPLES}",
                    _ours(method, w, num_samples=SAMPLES),
                    _torchcam(method, w, classes),
                    MIN_SPEEDUP,
                    _max_difference,
                )
            )
    return scorecam, smoothed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--heavy", action="store_true", help="also resnet50 on four images, and SSCAM/ISCAM on it")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    device = torch.device("cpu")
    torch.set_grad_enabled(True)
    scorecam, smoothed = build_cases(args.heavy)
    tables = []
    for cases, title, against in (
        (scorecam, "ScoreCAM against grad-cam 1.5.7", "grad-cam 1.5.7"),
        (smoothed, "SSCAM and ISCAM against torchcam 0.5.0", "torchcam 0.5.0"),
    ):
        agreement = measure(cases, args.repeats, device)
        tables.append(
            report(cases, agreement, "targets: each image's top class", args.repeats, device, title, against, "case")
        )
    publish("\n\n".join(tables), RESULTS_FILE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
