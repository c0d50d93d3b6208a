"""Train the MotifsCNN on synthetic signals and save its weights to camwidgets/data/motifs_cnn.pt.

    .venv/bin/python bench/train_motifs_cnn.py [--epochs 8] [--train 4000] [--out PATH]

No flips (a reversed chirp or sawtooth is another signal); deterministic on the CPU (fixed seeds,
2 threads).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_motion_cnn import as_is  # noqa: E402
from train_shapes_cnn import accuracy, fit, save, training_arguments  # noqa: E402

from camwidgets.data.motifs import make_motif_signals  # noqa: E402
from camwidgets.data.spacetime_models import WEIGHTS, MotifsCNN  # noqa: E402

HELD_OUT_SEED = 2


def main() -> None:
    args = training_arguments(__doc__.splitlines()[0], 8, WEIGHTS["motifs"], train=4000, batch=64)
    start = time.perf_counter()
    train, held = make_motif_signals(args.train, seed=1), make_motif_signals(500, seed=HELD_OUT_SEED)
    x_train, y_train = torch.from_numpy(train.signals), torch.from_numpy(train.labels)
    x_held, y_held = torch.from_numpy(held.signals), torch.from_numpy(held.labels)
    print(f"data: {len(train)} train, {len(held)} held out, {time.perf_counter() - start:.1f}s")
    torch.manual_seed(0)
    model = MotifsCNN()
    seconds = fit(model, x_train, y_train, x_held, y_held, args.epochs, args.batch, args.lr, augment=as_is)
    save(model, args.out)
    print(f"held-out accuracy (make_motif_signals(500, seed={HELD_OUT_SEED})): {accuracy(model, x_held, y_held):.4f}")
    print(f"training time: {seconds:.1f}s; saved {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
