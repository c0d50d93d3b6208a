"""Train the MotionCNN on synthetic clips and save its weights to camwidgets/data/motion_cnn.pt.

    .venv/bin/python bench/train_motion_cnn.py [--epochs 10] [--train 3000] [--out PATH]

The class is the kind of the shape that moves (not where it goes), no augmentation;
deterministic on the CPU (fixed seeds, 2 threads).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_shapes_cnn import fit_and_report, training_arguments  # noqa: E402

from camwidgets.data.motion import make_motion_clips  # noqa: E402
from camwidgets.data.spacetime_models import WEIGHTS, MotionCNN  # noqa: E402

HELD_OUT_SEED = 2


def as_is(clips: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return clips


def main() -> None:
    args = training_arguments(__doc__.splitlines()[0], 10, WEIGHTS["motion"], train=3000, batch=32)
    started = time.perf_counter()
    train, held = make_motion_clips(args.train, seed=1), make_motion_clips(500, seed=HELD_OUT_SEED)
    tensors = lambda batch: (torch.from_numpy(batch.clips), torch.from_numpy(batch.labels))  # noqa: E731
    fit_and_report(
        args,
        MotionCNN,
        tensors(train),
        tensors(held),
        f"make_motion_clips(500, seed={HELD_OUT_SEED})",
        started,
        augment=as_is,
    )


if __name__ == "__main__":
    main()
