"""Latency of CAMExplorer: from a control's trait change to the new map in the overlay's state.

resnet50 with seeded random weights, the four bundled photos at 224x224 (one batch). Three kinds of
change, each repeated, medians reported:

* method change (gradient methods, cycling): served from the cached forward/backward;
* layer change (cycling through stages of layer3/layer4, cache cleared first: a fresh forward and backward);
* target change (cycling through the first image's top classes, cache cleared first).

Each change is also expressed as a ratio to a plain ``no_grad`` forward of the same batch timed
just before it, which stays meaningful on a loaded machine.

The clock starts just before the control's value is set (as a message from the browser would set
it) and stops in an observer of the overlay's ``revision`` trait, which changes together with the
new map bytes. Targets: 300 ms for a method change, 1.5 s for a layer or target change.

    .venv/bin/python bench/widget_latency.py            # full run
    .venv/bin/python bench/widget_latency.py --quick    # smoke test: 2 repeats

Prints a table and writes bench/results/widget_latency.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch
import torchvision
from report import publish

import camwidgets as cw

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "widget_latency.md"
METHODS = ["gradcam", "hirescam", "gradcam++", "xgradcam", "layercam", "gradcam_elementwise"]
LAYERS = [["layer4.2"], ["layer4.1"], ["layer3.5"], ["layer4"]]
TARGETS_MS = {"method": 300.0, "layer": 1500.0, "target": 1500.0}


class Stopwatch:
    """Times one change: ``start()`` then the overlay's next revision stops it."""

    def __init__(self, explorer: cw.CAMExplorer) -> None:
        self.started = 0.0
        self.seconds: float | None = None
        explorer.overlay.observe(self._stop, names="revision")

    def start(self) -> None:
        self.seconds = None
        self.started = time.perf_counter()

    def _stop(self, change: dict) -> None:
        if self.seconds is None:
            self.seconds = time.perf_counter() - self.started


def plain_forward_seconds(explorer: cw.CAMExplorer) -> float:
    """One ``no_grad`` forward of the same batch: the yardstick that load on the machine moves alike."""
    start = time.perf_counter()
    with torch.no_grad():
        explorer.session.model(explorer.session.images.batch)
    return time.perf_counter() - start


def measure(
    explorer: cw.CAMExplorer, watch: Stopwatch, changes: list[Callable[[], None]], clear_cache: bool
) -> tuple[list[float], list[float], int]:
    """Seconds per change, the ratio to a plain forward timed just before it, and the captures run."""
    times, ratios, forwards = [], [], explorer.session.cache.forward_passes
    for change in changes:
        if clear_cache:
            explorer.session.cache.clear()
        forward = plain_forward_seconds(explorer)
        watch.start()
        change()
        if watch.seconds is None or explorer.overlay.error:
            raise RuntimeError(f"the change produced no new map: {explorer.overlay.error or 'no update'}")
        times.append(watch.seconds)
        ratios.append(watch.seconds / forward)
    return times, ratios, explorer.session.cache.forward_passes - forwards


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 repeats per kind of change (a smoke test)")
    parser.add_argument("--repeats", type=int, default=12, help="changes per kind (default 12)")
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else args.repeats

    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    explorer = cw.CAMExplorer(model, cw.photo_names(), labels=[str(i) for i in range(1000)])
    watch = Stopwatch(explorer)
    controls = explorer.controls
    top = [index for index, _, _ in explorer.session.top_classes(0, 4)]

    def method_change(i: int) -> Callable[[], None]:
        return lambda: setattr(controls.method, "value", METHODS[(i + 1) % len(METHODS)])

    def layer_change(i: int) -> Callable[[], None]:
        return lambda: setattr(explorer.tree, "selected", LAYERS[(i + 1) % len(LAYERS)])

    def target_change(i: int) -> Callable[[], None]:
        return lambda: setattr(controls.target, "value", top[(i + 1) % len(top)])  # never the current one

    explorer.set(layers=LAYERS[0], method=METHODS[0])
    controls.method.value = METHODS[1]  # warm-up
    results = {}
    results["method"] = measure(explorer, watch, [method_change(i + 1) for i in range(repeats)], clear_cache=False)
    results["layer"] = measure(explorer, watch, [layer_change(i) for i in range(repeats)], clear_cache=True)
    explorer.set(layers=LAYERS[0])
    controls.target.value = top[0]
    explorer.wait()
    results["target"] = measure(explorer, watch, [target_change(i) for i in range(repeats)], clear_cache=True)

    rows = []
    for kind, (times, ratios, forwards) in results.items():
        median_ms = 1000 * statistics.median(times)
        met = "met" if median_ms <= TARGETS_MS[kind] else "NOT met"
        rows.append(
            f"| {kind} change | {len(times)} | {median_ms:.0f} | {1000 * min(times):.0f} | {1000 * max(times):.0f} "
            f"| {statistics.median(ratios):.2f}x | {forwards} | ≤ {TARGETS_MS[kind]:.0f} ms: {met} |"
        )
    header = [
        f"# CAMExplorer latency ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)",
        "",
        f"resnet50 (seeded random weights), {len(explorer.session.images)} photos at 224x224 in one batch; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, device {explorer.session.device}; Python {sys.version.split()[0]}."
        + (" Quick smoke run: too few repeats for conclusions." if args.quick else ""),
        "",
        "Time from the control's trait change to the new map in the overlay's state. Layer and target changes run with",
        "the capture cache cleared first (a fresh forward and backward); method changes use the cached capture.",
        "change/forward: median over changes of the change's time / a plain no_grad forward of the batch timed just",
        "before it (robust to load on the machine, which moves both alike).",
        "",
        "| change | repeats | median ms | min ms | max ms | change/forward | captures run | target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    publish("\n".join(header + rows) + "\n", RESULTS_FILE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
