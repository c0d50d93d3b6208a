"""Check retrained weights against the shipped ones:
``check_retrained.py shapes|shortcut|vit|solids|motion|motifs|clip NEW SHIPPED``.

Prints the largest weight difference and both models' held-out score (accuracy; exact match for
the multi-label solids; retrieval recall at 1 for the shapes CLIP; on the split the training script
holds out); exits 1 when the scores
differ by more than ``--tolerance`` (default 0.01).
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

from train_shapes_clip import evaluate as evaluate_clip  # noqa: E402
from train_shapes_cnn import accuracy  # noqa: E402
from train_solids_cnn import exact_match  # noqa: E402

from camwidgets.data.captions import make_captioned_scenes  # noqa: E402
from camwidgets.data.motifs import make_motif_signals  # noqa: E402
from camwidgets.data.motion import make_motion_clips  # noqa: E402
from camwidgets.data.shapes import make_shapes, normalise  # noqa: E402
from camwidgets.data.shapes_clip import FROZEN, ShapesTokenizer, build_shapes_clip  # noqa: E402
from camwidgets.data.shapes_cnn import load_shapes_cnn  # noqa: E402
from camwidgets.data.shortcut import make_shortcut_shapes  # noqa: E402
from camwidgets.data.solids import make_solids  # noqa: E402
from camwidgets.data.spacetime_models import MotifsCNN, MotionCNN, SolidsCNN  # noqa: E402
from camwidgets.data.task_models import _load_trained, build_shapes_vit  # noqa: E402


def _shapes(batch):
    return normalise(batch.images), torch.from_numpy(batch.labels)


def recall_at_1(model, held, _labels) -> float:
    """The shapes CLIP's held-out retrieval recall at 1 (``train_shapes_clip.evaluate``)."""
    return evaluate_clip(model, ShapesTokenizer(), held)["recall@1"]


def _with_weights(model, path):
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


# split: (held-out inputs and labels, loader of a weights file, score)
HELD_OUT = {
    "shapes": (lambda: _shapes(make_shapes(1000, seed=2)), load_shapes_cnn, accuracy),
    "shortcut": (lambda: _shapes(make_shortcut_shapes(1000, seed=22, marked="shortcut")), load_shapes_cnn, accuracy),
    "vit": (lambda: _shapes(make_shapes(1000, seed=2)), lambda path: _load_trained(build_shapes_vit(), path, "train_shapes_vit.py"), accuracy),
    "solids": (lambda: (lambda b: (torch.from_numpy(b.volumes), torch.from_numpy(b.labels)))(make_solids(500, seed=2)), lambda path: _with_weights(SolidsCNN(), path), exact_match),
    "motion": (lambda: (lambda b: (torch.from_numpy(b.clips), torch.from_numpy(b.labels)))(make_motion_clips(500, seed=2)), lambda path: _with_weights(MotionCNN(), path), accuracy),
    "motifs": (lambda: (lambda b: (torch.from_numpy(b.signals), torch.from_numpy(b.labels)))(make_motif_signals(500, seed=2)), lambda path: _with_weights(MotifsCNN(), path), accuracy),
    "clip": (lambda: (make_captioned_scenes(200, seed=2), None), lambda path: _load_trained(build_shapes_clip(), path, "train_shapes_clip.py", FROZEN), recall_at_1),
}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("split", choices=sorted(HELD_OUT))
    parser.add_argument("new", type=Path)
    parser.add_argument("shipped", type=Path)
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args()
    data, load, score = HELD_OUT[args.split]
    x, y = data()
    new, shipped = load(args.new), load(args.shipped)
    weights = {name: tensor for name, tensor in shipped.state_dict().items() if tensor.is_floating_point()}
    worst = max(float((new.state_dict()[name] - tensor).abs().max()) for name, tensor in weights.items())
    accuracies = score(new, x, y), score(shipped, x, y)
    same = abs(accuracies[0] - accuracies[1]) <= args.tolerance
    print(
        f"{args.split}: held-out {score.__name__} retrained {accuracies[0]:.4f}, shipped {accuracies[1]:.4f}; "
        f"largest weight difference {worst:.3g} ({'bit for bit' if worst == 0 else 'not bit for bit'}): {'OK' if same else 'DIFFERENT'}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
