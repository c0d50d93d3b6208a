"""Images per second of explain_dataset over a folder, against plain inference and CAM loops.

resnet50 with seeded random weights, 64 images at 224x224 (the bundled photos, flipped and cropped
into a folder of PNGs), batch 16, no DataLoader workers, the same decoding and preprocessing for
every contender. In each round, one after another:

* plain inference: ``model(x)`` under ``no_grad`` for every batch;
* a pytorch-grad-cam loop, as its README writes it: one ``GradCAM(model, [model.layer4[-1]])``,
  then ``cam(input_tensor=x, targets=None)`` per batch;
* the same loop over camwidgets' ``GradCAM``;
* ``explain_dataset`` with its default columns (prediction, confidence, target probability), the
  table and the maps written (a fresh folder each round), and again with each optional metric.

Medians over the rounds; the ratios are taken within each round. Targets: explain_dataset >= 0.9x
plain inference and >= 3x the pytorch-grad-cam loop.

Then processes against threads: the same explain_dataset run (default columns, chunks of 16 rows)
under ``torchrun`` (``bench/dataset_ranks.py``) as one process with 2 threads, one process with 1
thread, and 2 gloo processes with 1 thread each, timed inside the run (start-up excluded).

    .venv/bin/python bench/dataset_throughput.py            # 3 rounds
    .venv/bin/python bench/dataset_throughput.py --quick    # 1 round, no optional metrics

Prints a table and writes bench/results/dataset_throughput.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision
from report import publish
from torch.utils.data import DataLoader

import camwidgets as cw
from camwidgets.dataset.sources import ImageFiles, Rows

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "dataset_throughput.md"
IMAGES, BATCH = 64, 16


def write_images(folder: Path) -> Path:
    """64 PNGs from the bundled photos: each photo flipped or not and cropped at 16 offsets."""
    rng = np.random.default_rng(0)
    (folder / "all").mkdir(parents=True)
    photos = [cw.load_photo(name) for name in cw.photo_names()]
    for index in range(IMAGES):
        photo = photos[index % len(photos)]
        if index % 2:
            photo = photo[:, ::-1]
        top, left = (int(v) for v in rng.integers(0, 40, 2))
        crop = np.ascontiguousarray(photo[top : top + photo.shape[0] - 40, left : left + photo.shape[1] - 40])
        cv2.imwrite(str(folder / "all" / f"{index:03d}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    return folder


def batches(folder: Path) -> DataLoader:
    return DataLoader(
        Rows(ImageFiles(folder)), batch_size=BATCH, collate_fn=lambda rows: torch.stack([row["image"] for row in rows])
    )


def rate(work) -> float:
    started = time.perf_counter()
    work()
    return IMAGES / (time.perf_counter() - started)


#: (label, processes, torch threads per process) of the processes-against-threads table.
RANK_SETUPS = (("1 process, 2 threads", 1, 2), ("1 process, 1 thread", 1, 1), ("2 gloo processes, 1 thread each", 2, 1))


def rank_rate(folder: Path, out: Path, processes: int, threads: int) -> float:
    """Images/s of one torchrun launch of ``bench/dataset_ranks.py``, timed inside the run."""
    script = Path(__file__).resolve().parent / "dataset_ranks.py"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        str(script),
        str(folder),
        str(out),
        str(threads),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=900, env={**os.environ, "OMP_NUM_THREADS": str(threads)}
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    seconds = float(next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("seconds ")))
    return IMAGES / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round, no optional metrics (a smoke test)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    warnings.filterwarnings("ignore")
    from pytorch_grad_cam import GradCAM as ReferenceGradCAM

    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    base = Path(tempfile.mkdtemp(prefix="camwidgets-throughput-"))
    try:
        folder = write_images(base / "images")

        def plain() -> None:
            with torch.no_grad():
                for x in batches(folder):
                    model(x)

        def cam_loop(cam) -> None:
            for x in batches(folder):
                cam(input_tensor=x, targets=None)

        reference, ours = ReferenceGradCAM(model, [model.layer4[-1]]), cw.GradCAM(model, [model.layer4[-1]])

        def explain(metrics=("confidence",)) -> None:
            out = base / "out"
            shutil.rmtree(out, ignore_errors=True)
            cw.explain_dataset(
                model,
                folder,
                out=out,
                batch_size=BATCH,
                metrics=metrics,
                target_layers=[model.layer4[-1]],
                progress=False,
            )

        contenders = {
            "plain inference (no_grad)": plain,
            "pytorch-grad-cam 1.5.7 GradCAM loop": lambda: cam_loop(reference),
            "camwidgets GradCAM loop": lambda: cam_loop(ours),
            "explain_dataset, default columns": explain,
        }
        if not args.quick:
            for metric in ("drop", "deletion", "insertion"):
                contenders[f"explain_dataset + {metric}"] = lambda metric=metric: explain(("confidence", metric))
        explain()  # warm-up: the first forward, the first backward, zarr's first files
        measured: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(rounds):
            for name, work in contenders.items():
                measured[name].append(rate(work))
        ranks: dict[str, list[float]] = {label: [] for label, _, _ in RANK_SETUPS}
        for _ in range(1 if args.quick else rounds):
            for label, processes, threads in RANK_SETUPS:
                ranks[label].append(rank_rate(folder, base / "ranks", processes, threads))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    plain_rates, reference_rates = (
        measured["plain inference (no_grad)"],
        measured["pytorch-grad-cam 1.5.7 GradCAM loop"],
    )
    rows = []
    for name, rates in measured.items():
        to_plain = statistics.median(r / p for r, p in zip(rates, plain_rates))
        to_reference = statistics.median(r / q for r, q in zip(rates, reference_rates))
        rows.append(f"| {name} | {statistics.median(rates):.1f} | {to_plain:.2f}x | {to_reference:.2f}x |")
    default = statistics.median(r / p for r, p in zip(measured["explain_dataset, default columns"], plain_rates))
    against = statistics.median(r / q for r, q in zip(measured["explain_dataset, default columns"], reference_rates))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = "\n".join([
        f"# explain_dataset throughput ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)",
        "",
        f"resnet50 (seeded random weights) at layer4[-1], {IMAGES} PNGs at 224x224, batch {BATCH}, no workers; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"load {load:.1f} at the end; medians of {rounds} round(s)." + (" Quick smoke run." if args.quick else ""),
        "",
        "| loop | images/s | vs plain inference | vs pytorch-grad-cam loop |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        f"Targets: explain_dataset (default columns) ≥ 0.9x plain inference: {'met' if default >= 0.9 else 'NOT met'} ({default:.2f}x); "
        f"≥ 3x the pytorch-grad-cam loop: {'met' if against >= 3 else 'NOT met'} ({against:.2f}x).",
        "",
        "Processes against threads: explain_dataset under torchrun, chunks of 16 rows, timed inside the run (start-up excluded).",
        "",
        "| launch | images/s | vs 1 process, 2 threads |",
        "|---|---:|---:|",
        *[f"| {label} | {statistics.median(values):.1f} | {statistics.median(v / b for v, b in zip(values, ranks[RANK_SETUPS[0][0]])):.2f}x |"
          for label, values in ranks.items()],
    ]) + "\n"  # fmt: skip
    publish(text, RESULTS_FILE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
