"""Train a ShapesCNN on shapes with a planted shortcut (camwidgets.data.shortcut) and save its
weights to camwidgets/data/shortcut_cnn.pt; notebooks/09_debugging_a_dataset.ipynb finds the shortcut.

    .venv/bin/python bench/train_shortcut_cnn.py [--epochs 6] [--train 6000] [--out PATH]

Deterministic on the CPU (fixed seeds, 2 threads); a few minutes on a 2-core machine. Prints the
accuracy on a held-out split drawn like the training data, and on one where the marker moved to
the other classes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_shapes_cnn import accuracy, fit, save, training_arguments  # noqa: E402

from camwidgets.data.shapes import CLASSES, normalise  # noqa: E402
from camwidgets.data.shapes_cnn import SHORTCUT_CNN_WEIGHTS, ShapesCNN  # noqa: E402
from camwidgets.data.shortcut import SHORTCUT_CLASS, make_shortcut_shapes  # noqa: E402


def tensors(batch) -> tuple[torch.Tensor, torch.Tensor]:
    return normalise(batch.images), torch.from_numpy(batch.labels)


def main() -> None:
    args = training_arguments(__doc__.splitlines()[0], 6, SHORTCUT_CNN_WEIGHTS)

    x_train, y_train = tensors(make_shortcut_shapes(args.train, seed=21, marked="shortcut"))
    x_held, y_held = tensors(make_shortcut_shapes(1000, seed=22, marked="shortcut"))
    moved = make_shortcut_shapes(1000, seed=23, marked="others")
    x_moved, y_moved = tensors(moved)

    torch.manual_seed(0)
    model = ShapesCNN()
    train_time = fit(model, x_train, y_train, x_held, y_held, args.epochs, args.batch, args.lr)
    save(model, args.out)
    shortcut = CLASSES.index(SHORTCUT_CLASS)
    with torch.no_grad():
        predicted = model(x_moved).argmax(1)
    others = y_moved != shortcut
    print(f"held-out accuracy, drawn like the training data: {accuracy(model, x_held, y_held):.4f}")
    print(
        f"held-out accuracy, marker moved to the other classes: {accuracy(model, x_moved, y_moved):.4f}; "
        f"{float((predicted[others] == shortcut).float().mean()):.1%} of the marked others predicted {SHORTCUT_CLASS}"
    )
    print(f"training time: {train_time:.1f}s; saved {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
