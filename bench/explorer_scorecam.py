"""ScoreCAM in the explorer: how long the shown image's map takes, and how well the menu priced it.

The walk-through's case: the pretrained mobilenet_v2, the four bundled photos, ``features.18``
(1280 channels). The explorer opens on GradCAM; ScoreCAM is then chosen as the menu would choose it.
Measured, over ``--rounds`` fresh explorers (each round a new explorer, so nothing is cached):

* the shown image's map: from the method change to the overlay's new revision (it runs in the
  background, the shown image first);
* all four: until the background job ends;
* the menu's price for ScoreCAM before it ran, as a ratio to what the four then took (target: within
  30%, 0.7 to 1.3);
* in the same process, grad-cam 1.5.7's ScoreCAM on the shown image alone, the work the explorer's
  first map replaces (target: ours at most half of it).

    .venv/bin/python bench/explorer_scorecam.py [--rounds 3]

Prints the table and writes bench/results/explorer_scorecam.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import torch
from report import one_minute_load, publish
from widget_latency import Stopwatch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import camwidgets as cw  # noqa: E402

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "explorer_scorecam.md"
LAYER = "features.18"


def one_round(model: torch.nn.Module) -> dict[str, float]:
    explorer = cw.CAMExplorer(model, cw.photo_names(), target_layers=[LAYER])
    price = explorer.session.estimate("scorecam").seconds
    watch = Stopwatch(explorer)
    watch.start()
    explorer.set(method="scorecam")
    while watch.seconds is None:
        time.sleep(0.01)
    first = watch.seconds
    explorer.wait()
    everything = time.perf_counter() - watch.started
    assert not explorer.overlay.error, explorer.overlay.error
    return {"first": first, "all": everything, "price": price}


def reference_first(model: torch.nn.Module) -> float:
    import pytorch_grad_cam

    photo = cw.CAMExplorer(model, cw.photo_names()[:1], target_layers=[LAYER]).session.images.batch
    started = time.perf_counter()
    with pytorch_grad_cam.ScoreCAM(model=model, target_layers=[model.get_submodule(LAYER)]) as cam:
        cam(photo, targets=None)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from torchvision.models import mobilenet_v2

    model = mobilenet_v2(weights="IMAGENET1K_V1").eval()
    rounds, references, loads = [], [], []
    for _ in range(args.rounds):
        rounds.append(one_round(model))
        references.append(reference_first(model))
        loads.append(one_minute_load())
    first = [r["first"] for r in rounds]
    accuracy = [r["price"] / r["all"] for r in rounds]
    against = [f / ref for f, ref in zip(first, references)]
    text = "\n".join(
        [
            f"ScoreCAM in the explorer — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, CPU, {torch.get_num_threads()} threads, "
            f"load {min(loads):.1f}–{max(loads):.1f} during the rounds, {args.rounds} rounds (median, min–max)",
            "",
            "| what | seconds |",
            "|---|---|",
            f"| the shown image's map | {statistics.median(first):.1f} ({min(first):.1f}–{max(first):.1f}) |",
            f"| all four images | {statistics.median(r['all'] for r in rounds):.1f} |",
            f"| the menu's price before it ran | {statistics.median(r['price'] for r in rounds):.1f} |",
            f"| grad-cam 1.5.7's ScoreCAM on the shown image alone | {statistics.median(references):.1f} |",
            "",
            f"- the shown image's map / grad-cam's on it: {statistics.median(against):.2f} ({min(against):.2f}–{max(against):.2f}) "
            f"(target ≤ 0.5): {'met' if statistics.median(against) <= 0.5 else 'NOT met'}",
            f"- price / what all four took: {statistics.median(accuracy):.2f} ({min(accuracy):.2f}–{max(accuracy):.2f}) "
            f"(target 0.7–1.3): {'met' if 0.7 <= statistics.median(accuracy) <= 1.3 else 'NOT met'}",
        ]
    )
    publish(text, RESULTS_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
