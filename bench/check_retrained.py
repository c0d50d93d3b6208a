"""Check retrained shapes weights against the shipped ones:
``check_retrained.py shapes|shortcut|vit NEW SHIPPED``.

Prints the largest weight difference and both models' held-out accuracy (the split the training
script holds out); exits 1 when the accuracies differ by more than ``--tolerance`` (default 0.01).
On the torch version that trained the shipped file the weights match bit for bit (the scripts are
deterministic on the CPU); another torch version may round differently along the way, which is
why the check is on what the model does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_shapes_cnn import accuracy  # noqa: E402

from camwidgets.data.shapes import make_shapes, normalise  # noqa: E402
from camwidgets.data.shapes_cnn import load_shapes_cnn  # noqa: E402
from camwidgets.data.shortcut import make_shortcut_shapes  # noqa: E402
from camwidgets.data.task_models import _load_trained, build_shapes_vit  # noqa: E402

HELD_OUT = {
    "shapes": lambda: make_shapes(1000, seed=2),
    "shortcut": lambda: make_shortcut_shapes(1000, seed=22, marked="shortcut"),
    "vit": lambda: make_shapes(1000, seed=2),
}
LOADERS = {
    "shapes": load_shapes_cnn,
    "shortcut": load_shapes_cnn,
    "vit": lambda path: _load_trained(build_shapes_vit(), path, "train_shapes_vit.py"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("split", choices=sorted(HELD_OUT))
    parser.add_argument("new", type=Path)
    parser.add_argument("shipped", type=Path)
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args()
    held = HELD_OUT[args.split]()
    x, y = normalise(held.images), torch.from_numpy(held.labels)
    load = LOADERS[args.split]
    new, shipped = load(args.new), load(args.shipped)
    weights = {name: tensor for name, tensor in shipped.state_dict().items() if tensor.is_floating_point()}
    worst = max(float((new.state_dict()[name] - tensor).abs().max()) for name, tensor in weights.items())
    accuracies = accuracy(new, x, y), accuracy(shipped, x, y)
    same = abs(accuracies[0] - accuracies[1]) <= args.tolerance
    print(
        f"{args.split}: held-out accuracy retrained {accuracies[0]:.4f}, shipped {accuracies[1]:.4f}; "
        f"largest weight difference {worst:.3g} ({'bit for bit' if worst == 0 else 'not bit for bit'}): {'OK' if same else 'DIFFERENT'}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
