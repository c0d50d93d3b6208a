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
from train_shapes_cnn import fit_and_report, training_arguments  # noqa: E402

from camwidgets.data.motifs import make_motif_signals  # noqa: E402
from camwidgets.data.spacetime_models import WEIGHTS, MotifsCNN  # noqa: E402

HELD_OUT_SEED = 2


def main() -> None:
    args = training_arguments(__doc__.splitlines()[0], 8, WEIGHTS["motifs"], train=4000, batch=64)
    started = time.perf_counter()
    train, held = make_motif_signals(args.train, seed=1), make_motif_signals(500, seed=HELD_OUT_SEED)
    tensors = lambda batch: (torch.from_numpy(batch.signals), torch.from_numpy(batch.labels))  # noqa: E731
    fit_and_report(
        args,
        MotifsCNN,
        tensors(train),
        tensors(held),
        f"make_motif_signals(500, seed={HELD_OUT_SEED})",
        started,
        augment=as_is,
    )


if __name__ == "__main__":
    main()
