"""Speed of camwidgets against the reference implementation, grad-cam 1.5.7 (``pytorch_grad_cam``).

Both libraries do the same work in one process: same model, same target layer, same input batch,
``targets=None`` (explain each image's top class). The CAM object is constructed inside the timed
region, as users call it. For every method, after one warm-up of each, rounds of
(plain forward, ours, reference) are interleaved, alternating the order of ours and the reference
from one round to the next, so that drift on a shared machine hits all of them alike.

Reported per method (ratios only; absolute seconds are this machine's and secondary):

* ours/forward: the median over rounds of our time / the plain ``with torch.no_grad(): model(x)``
  time of the same round;
* speed-up: the median over rounds of the reference's time / our time in the same round, with the
  smallest and largest of them, and the 1-minute load average after each round;
* target: every gradient-family method (all but EigenCAM) at least 2.0x faster than the reference,
  and GradCAM on resnet50 at most 1.15x the plain forward; AblationCAM at least 30x faster and
  ScoreCAM at least 2x faster. These perturbation rows explain one
  image (the reference runs a forward per channel: minutes per round on a 2-core CPU);
* max |ours - ref|: the largest difference between the two outputs (warm-up call), so that a fast but
  wrong result shows.

    .venv/bin/python bench/run.py                      # full run (about 40 min on 2 CPU cores, mostly the
                                                       # reference's ScoreCAM/AblationCAM: a forward per channel)
    .venv/bin/python bench/run.py --quick              # smoke test: 1 repeat, small batches
    .venv/bin/python bench/run.py --models mobilenet_v2 --methods gradcam,layercam --repeats 3

The table is printed and written to bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from report import one_minute_load, publish, spread
from torch import nn

import camwidgets as cw
from camwidgets.engine import METHODS as ENGINE_METHODS

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "latest.md"
REFERENCE_NAME = "grad-cam 1.5.7"

#: Class names of the registered methods (both libraries have them), in registry order; the
#: command-line names are these lower-cased.
METHOD_CLASSES = tuple(spec.class_name for spec in ENGINE_METHODS.values())
METHODS = {name.lower(): name for name in METHOD_CLASSES}
GRADIENT_FREE = {spec.class_name.lower() for spec in ENGINE_METHODS.values() if not spec.needs_gradients}
EIGEN_METHODS = {"eigencam", "eigengradcam"}
#: Registered methods this generic table (one target layer, targets=None, the reference's defaults)
#: cannot time fairly, with the reason printed when they are skipped.
SKIPPED = {
    "refinecam": "needs two or more target layers; the table explains one",
    "smoothgradcampp": "not in grad-cam 1.5.7 (torchcam's method)",
    "sess": "its defaults run hundreds of patch forwards per image at 224 px on both sides",
    "randomcam": "random maps: there is no common output to compare",
    "sscam": "not in grad-cam 1.5.7 (torchcam's method)",
    "iscam": "not in grad-cam 1.5.7 (torchcam's method)",
}
#: Methods that run a forward per channel (thousands per image in the reference): timed on this many
#: images, without a separate warm-up (the first timed round gives the outputs to compare).
PERTURBATION = {spec.class_name.lower() for spec in ENGINE_METHODS.values() if spec.family == "perturbation"}
PERTURBATION_BATCH = 1

MIN_SPEEDUP = 2.0
#: (model, method) -> the largest allowed ours/forward ratio.
MAX_OVERHEAD = {("resnet50", "gradcam"): 1.15}
#: (model, method) -> the smallest allowed speed-up, for rows outside the gradient family's MIN_SPEEDUP.
MIN_SPEEDUP_OF = {
    ("mobilenet_v2", "scorecam"): 2.0,
    ("resnet50", "scorecam"): 2.0,
    ("mobilenet_v2", "ablationcam"): 30.0,
    ("resnet50", "ablationcam"): 30.0,
}

QUICK_BATCH = 2


@dataclass
class Workload:
    """A model on the benchmark device, the layer to explain and the input batch."""

    name: str
    model: nn.Module
    layer: nn.Module
    batch: torch.Tensor


@dataclass
class Measurement:
    """Timings (seconds) of one method on one workload, and how far apart the two outputs are."""

    forward: list[float] = field(default_factory=list)
    ours: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)
    max_difference: float = float("nan")
    loads: list[float] = field(default_factory=list)  # the 1-minute load average after each round

    @property
    def speedups(self) -> list[float]:
        """Each round's reference time / our time."""
        return [r / o for r, o in zip(self.reference, self.ours)]

    @property
    def speedup(self) -> float:
        """Median over rounds of (reference time / our time) within the round: the ratio of two
        neighbouring runs, so load changes between rounds on a shared machine cancel."""
        return statistics.median(self.speedups)

    @property
    def overhead(self) -> float:
        """Median over rounds of (our time / plain forward time) within the round."""
        return statistics.median(o / f for o, f in zip(self.ours, self.forward))


def photo_batch(transform: Callable[[torch.Tensor], torch.Tensor], size: int) -> torch.Tensor:
    """The bundled photos, preprocessed by ``transform`` and repeated to ``size`` images."""
    photos = [transform(torch.from_numpy(cw.load_photo(name)).permute(2, 0, 1)) for name in cw.photo_names()]
    return torch.stack([photos[i % len(photos)] for i in range(size)])


def build_resnet50(batch_size: int) -> Workload:
    """resnet50 with seeded random weights (timing does not depend on their values), ``layer4[-1]``."""
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    transform = torchvision.models.ResNet50_Weights.DEFAULT.transforms()  # no download needed
    return Workload("resnet50", model, model.layer4[-1], photo_batch(transform, batch_size))


def build_mobilenet_v2(batch_size: int) -> Workload:
    """Pretrained mobilenet_v2 (offline weights), ``features[-1]``."""
    from camwidgets.pretrained import load_model

    model, weights = load_model("mobilenet_v2")
    return Workload("mobilenet_v2", model, model.features[-1], photo_batch(weights.transforms(), batch_size))


#: name -> (builder, batch size of a full run).
WORKLOADS: dict[str, tuple[Callable[[int], Workload], int]] = {
    "resnet50": (build_resnet50, 8),
    "mobilenet_v2": (build_mobilenet_v2, 16),
}


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that timings cover it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    """``(seconds, result)`` of one call, with the device synchronised on both sides."""
    gc.collect()
    synchronize(device)
    start = time.perf_counter()
    result = function()
    synchronize(device)
    return time.perf_counter() - start, result


def run_cam(cam_class: type, workload: Workload) -> np.ndarray:
    """Construct a CAM object and explain the batch, as users do (the object is released after)."""
    result = None
    with cam_class(workload.model, target_layers=[workload.layer]) as cam:
        result = cam(workload.batch, targets=None)
    if result is None:  # the reference's __exit__ swallows IndexError
        raise RuntimeError(f"{cam_class.__module__}.{cam_class.__name__} returned no result")
    return result


def run_forward(workload: Workload) -> torch.Tensor:
    """The plain inference forward the overhead is measured against."""
    with torch.no_grad():
        return workload.model(workload.batch)


def measure(workload: Workload, method: str, repeats: int, device: torch.device) -> Measurement:
    """Warm up ours and the reference once (comparing their outputs), then time ``repeats`` rounds of
    (forward, ours, reference), swapping ours and the reference every other round."""
    import pytorch_grad_cam as reference

    class_name = METHODS[method]
    contenders = {
        "ours": lambda: run_cam(getattr(cw, class_name), workload),
        "reference": lambda: run_cam(getattr(reference, class_name), workload),
    }
    result = Measurement()
    run_forward(workload)
    outputs = {}
    if method not in PERTURBATION:
        outputs = {name: contender() for name, contender in contenders.items()}
    for round_index in range(repeats):
        result.forward.append(timed(lambda: run_forward(workload), device)[0])
        order = ("ours", "reference") if round_index % 2 == 0 else ("reference", "ours")
        for name in order:
            seconds, output = timed(contenders[name], device)
            getattr(result, name).append(seconds)
            outputs.setdefault(name, output)
            workload.model.zero_grad(set_to_none=True)  # the reference leaves .grad set; drop it untimed
        result.loads.append(one_minute_load())
    result.max_difference = float(np.abs(outputs["ours"] - outputs["reference"]).max())
    return result


def target_verdict(model: str, method: str, measurement: Measurement) -> str:
    """'met' / 'NOT met' with the criteria that apply to this row ('—' where none does)."""
    checks = []
    if method not in GRADIENT_FREE:
        checks.append((f"speed-up ≥ {MIN_SPEEDUP:.1f}x", measurement.speedup >= MIN_SPEEDUP))
    if (model, method) in MIN_SPEEDUP_OF:
        minimum = MIN_SPEEDUP_OF[(model, method)]
        checks.append((f"speed-up ≥ {minimum:g}x", measurement.speedup >= minimum))
    limit = MAX_OVERHEAD.get((model, method))
    if limit is not None:
        checks.append((f"ours/forward ≤ {limit:.2f}x", measurement.overhead <= limit))
    if not checks:
        return "—"
    status = {True: "met", False: "NOT met"}
    details = "; ".join(f"{label}: {status[ok]}" for label, ok in checks)
    return f"{status[all(ok for _, ok in checks)]} ({details})"


def table_rows(results: list[tuple[Workload, str, Measurement]]) -> list[str]:
    """The Markdown table of all measured rows."""
    header = (
        "| model | batch | method | ours/forward | speed-up vs grad-cam 1.5.7, median (min–max) | target | max \\|ours - ref\\| "
        "| medians on this machine, s (ours / ref / forward) | load during the rounds |"
    )
    lines = [header, "|---|---:|---|---:|---:|---|---:|---|---|"]
    for workload, method, m in results:
        name = METHODS[method] + ("¹" if method in EIGEN_METHODS else "")
        medians = " / ".join(f"{statistics.median(t):.3f}" for t in (m.ours, m.reference, m.forward))
        lines.append(
            f"| {workload.name} | {len(workload.batch)} | {name} | {m.overhead:.2f}x | {spread(m.speedups)} "
            f"| {target_verdict(workload.name, method, m)} | {m.max_difference:.1e} | {medians} "
            f"| {min(m.loads):.1f}–{max(m.loads):.1f} |"
        )
    return lines


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_description(device: torch.device) -> list[str]:
    """Lines describing where the numbers come from."""
    accelerator = torch.cuda.get_device_name(device) if device.type == "cuda" else "none (CPU run)"
    return [
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores (os.cpu_count), torch threads: {torch.get_num_threads()}",
        f"- device: {device} ({accelerator})",
        f"- torch {torch.__version__}, torchvision {torchvision.__version__}, python {platform.python_version()}",
        f"- camwidgets {cw.__version__}, reference grad-cam {metadata.version('grad-cam')}",
    ]


def load_average() -> str:
    """The 1/5/15-minute load averages (how busy the shared machine was), where the OS tells."""
    try:
        return " / ".join(f"{value:.1f}" for value in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def report(
    results: list[tuple[Workload, str, Measurement]], args: argparse.Namespace, device: torch.device, load_before: str
) -> str:
    """The full Markdown report: settings, machine, table and footnotes."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# camwidgets vs {REFERENCE_NAME}",
        "",
        f"{stamp}; `{' '.join(['bench/run.py', *sys.argv[1:]])}`; medians of {args.repeats} interleaved "
        "run(s) after one warm-up each; CAM object constructed inside the timed region; targets=None.",
        "",
        *machine_description(device),
        f"- load average (1/5/15 min): {load_before} before, {load_average()} after",
        "",
        *table_rows(results),
        "",
        "ours/forward: median over rounds of our time / the `with torch.no_grad(): model(x)` time of the same round. "
        "speed-up: median over rounds of reference time / our time in the same round. "
        "Ratios are the result; seconds are this machine's only.",
        "",
        "¹ EigenCAM/EigenGradCAM: the sign of the SVD projection may differ (we fix it, the reference leaves "
        "it to LAPACK), so a large difference there can be the sign convention rather than an error.",
    ]
    return "\n".join(lines) + "\n"


def parse_names(text: str, known: list[str], what: str, parser: argparse.ArgumentParser) -> list[str]:
    """Comma-separated names, each checked against ``known`` (order kept as given)."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        parser.error(f"unknown {what} {', '.join(unknown) or '(none given)'}; choose from {', '.join(known)}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see --help)."""
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description=f"Time camwidgets against {REFERENCE_NAME} on the same work, in one process.",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each (median reported; default 5)")
    parser.add_argument("--models", default=",".join(WORKLOADS), help=f"comma-separated, from {', '.join(WORKLOADS)}")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from {', '.join(METHODS)}")
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="where models and inputs live (default: cuda if available)",
    )
    parser.add_argument("--quick", action="store_true", help=f"smoke test: 1 repeat, batch {QUICK_BATCH}")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device available")
    args.models = parse_names(args.models, list(WORKLOADS), "model", parser)
    args.methods = parse_names(args.methods, list(METHODS), "method", parser)
    if args.quick:
        args.repeats = 1
    return args


def load_workload(name: str, quick: bool, device: torch.device) -> Workload:
    """Build a workload and move its model and batch to ``device``."""
    builder, batch_size = WORKLOADS[name]
    workload = builder(QUICK_BATCH if quick else batch_size)
    workload.model.to(device)
    workload.batch = workload.batch.to(device)
    return workload


def main(argv: list[str] | None = None) -> int:
    torch.set_num_threads(os.cpu_count() or 1)
    args = parse_args(argv)
    device = torch.device(args.device)
    print("\n".join(machine_description(device)), flush=True)
    load_before = load_average()
    warnings.filterwarnings("ignore", module="pytorch_grad_cam")
    warnings.filterwarnings("ignore", module="ttach")

    results = []
    for model_name in args.models:
        workload = load_workload(model_name, args.quick, device)
        for method in args.methods:
            if method in SKIPPED:
                print(f"  skipping {METHODS[method]}: {SKIPPED[method]}", file=sys.stderr, flush=True)
                continue
            row = replace(workload, batch=workload.batch[:PERTURBATION_BATCH]) if method in PERTURBATION else workload
            print(f"  {model_name} batch {len(row.batch)}: {METHODS[method]} ...", file=sys.stderr, flush=True)
            results.append((row, method, measure(row, method, args.repeats, device)))

    text = report(results, args, device, load_before)
    print()
    publish(text, RESULTS_FILE)
    print(f"written to {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
