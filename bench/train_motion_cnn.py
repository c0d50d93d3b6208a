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

from train_shapes_cnn import accuracy, fit, save, training_arguments  # noqa: E402

from camwidgets.data.motion import make_motion_clips  # noqa: E402
from camwidgets.data.spacetime_models import WEIGHTS, MotionCNN  # noqa: E402

HELD_OUT_SEED = 2


def as_is(clips: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return clips


def main() -> None:
    args = training_arguments(__doc__.splitlines()[0], 10, WEIGHTS["motion"], train=3000, batch=32)
    start = time.perf_counter()
    train, held = make_motion_clips(args.train, seed=1), make_motion_clips(500, seed=HELD_OUT_SEED)
    x_train, y_train = torch.from_numpy(train.clips), torch.from_numpy(train.labels)
    x_held, y_held = torch.from_numpy(held.clips), torch.from_numpy(held.labels)
    print(f"data: {len(train)} train, {len(held)} held out, {time.perf_counter() - start:.1f}s")
    torch.manual_seed(0)
    model = MotionCNN()
    seconds = fit(model, x_train, y_train, x_held, y_held, args.epochs, args.batch, args.lr, augment=as_is)
    save(model, args.out)
    print(f"held-out accuracy (make_motion_clips(500, seed={HELD_OUT_SEED})): {accuracy(model, x_held, y_held):.4f}")
    print(f"training time: {seconds:.1f}s; saved {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
