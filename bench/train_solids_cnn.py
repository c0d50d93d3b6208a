"""Train the SolidsCNN on synthetic volumes and save its weights to camwidgets/data/solids_cnn.pt.

    .venv/bin/python bench/train_solids_cnn.py [--epochs 12] [--train 5000] [--out PATH]

Multi-label (which of the four solids a volume holds); deterministic on the CPU (fixed seeds,
2 threads). The held-out score is exact-match accuracy: every solid's presence right.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_shapes_cnn import fit_and_report, training_arguments  # noqa: E402

from camwidgets.data.solids import make_solids  # noqa: E402
from camwidgets.data.spacetime_models import WEIGHTS, SolidsCNN  # noqa: E402

HELD_OUT_SEED = 2


@torch.no_grad()
def exact_match(model: nn.Module, volumes: torch.Tensor, labels: torch.Tensor, batch: int = 100) -> float:
    """The share of volumes whose every label is right (logit > 0 means present)."""
    model.eval()
    right = 0
    for start in range(0, len(labels), batch):
        guess = model(volumes[start : start + batch]) > 0
        right += int((guess == (labels[start : start + batch] > 0.5)).all(dim=1).sum())
    return right / len(labels)


def flip_volumes(volumes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random flips along each of the three axes (which solids are present does not change)."""
    for axis in (-1, -2, -3):
        if torch.rand(1, generator=generator).item() < 0.5:
            volumes = volumes.flip(axis)
    return volumes


def main() -> None:
    args = training_arguments(__doc__.splitlines()[0], 12, WEIGHTS["solids"], train=5000, batch=32)
    started = time.perf_counter()
    train, held = make_solids(args.train, seed=1), make_solids(500, seed=HELD_OUT_SEED)
    fit_and_report(args, SolidsCNN, tensors(train), tensors(held), f"make_solids(500, seed={HELD_OUT_SEED})", started,
                   score=exact_match, augment=flip_volumes, loss_fn=nn.BCEWithLogitsLoss())  # fmt: skip


def tensors(batch) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(batch.volumes), torch.from_numpy(batch.labels)


if __name__ == "__main__":
    main()
