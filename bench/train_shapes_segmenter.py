"""Train the shapes segmenter's head (LRASPP on the frozen ImageNet mobilenet_v2) on the shapes
scenes and save it to camwidgets/data/shapes_segmenter_head.pt.

    .venv/bin/python bench/train_shapes_segmenter.py [--epochs 12] [--train 2000] [--out PATH]

The backbone is frozen, so its features are computed once per scene and the head trains on them.
Deterministic on the CPU (fixed seeds, 2 threads); about 3 minutes on a 2-core machine. Prints the
held-out mean IoU over the five classes (background included) of 200 scenes (seed 2).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_shapes_cnn import training_arguments  # noqa: E402

from camwidgets.core.images import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from camwidgets.data.scenes import SCENE_CLASSES, make_scenes  # noqa: E402
from camwidgets.data.task_models import FROZEN, SEGMENTER_WEIGHTS, build_shapes_segmenter, trained_state  # noqa: E402

MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def imagenet(images: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(images) - MEAN) / STD


@torch.no_grad()
def backbone_features(model: torch.nn.Module, images: np.ndarray, batch: int = 50) -> dict[str, torch.Tensor]:
    """The frozen backbone's outputs for every scene, float16 to halve the memory."""
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(images), batch):
        for name, value in model.backbone(imagenet(images[start : start + batch])).items():
            parts.setdefault(name, []).append(value.half())
    return {name: torch.cat(values) for name, values in parts.items()}


def confusion(predicted: torch.Tensor, truth: torch.Tensor, classes: int) -> np.ndarray:
    return (
        torch.bincount(truth.flatten() * classes + predicted.flatten(), minlength=classes * classes)
        .reshape(classes, classes)
        .numpy()
    )


def mean_iou(counts: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean over classes of ``TP / (TP + FP + FN)``, from a (true, predicted) confusion matrix."""
    tp = np.diag(counts).astype(np.float64)
    iou = tp / np.maximum(counts.sum(0) + counts.sum(1) - tp, 1)
    return float(iou.mean()), iou


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, images: np.ndarray, truth: np.ndarray, batch: int = 25
) -> tuple[float, np.ndarray]:
    model.eval()
    counts = np.zeros((len(SCENE_CLASSES),) * 2, np.int64)
    for start in range(0, len(images), batch):
        out = model(imagenet(images[start : start + batch]))["out"]
        counts += confusion(out.argmax(1), torch.from_numpy(truth[start : start + batch]), len(SCENE_CLASSES))
    return mean_iou(counts)


def main() -> None:
    args = training_arguments(__doc__.splitlines()[0], 12, SEGMENTER_WEIGHTS, lr=5e-3, train=2000, batch=16)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    start = time.perf_counter()
    train, held = make_scenes(args.train, seed=1), make_scenes(200, seed=2)
    model = build_shapes_segmenter()
    model.eval()
    features = backbone_features(model, train.images)
    truth = torch.from_numpy(train.class_masks)
    print(f"scenes and backbone features: {time.perf_counter() - start:.1f}s")

    head = model.classifier
    optimiser = torch.optim.Adam(head.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * -(-args.train // args.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=args.lr, total_steps=steps)
    generator = torch.Generator().manual_seed(0)
    train_start = time.perf_counter()
    for epoch in range(args.epochs):
        head.train()
        order = torch.randperm(args.train, generator=generator)
        total = 0.0
        for i in range(0, args.train, args.batch):
            idx = order[i : i + args.batch]
            logits = head({name: value[idx].float() for name, value in features.items()})
            logits = F.interpolate(logits, size=truth.shape[-2:], mode="bilinear", align_corners=False)
            loss = F.cross_entropy(logits, truth[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        print(
            f"epoch {epoch + 1}/{args.epochs}: loss {total / args.train:.4f}, {time.perf_counter() - train_start:.1f}s"
        )
    train_time = time.perf_counter() - train_start
    miou, iou = evaluate(model, held.images, held.class_masks)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(trained_state(model, FROZEN["segmenter"]), args.out)
    print(
        "held-out IoU: "
        + ", ".join(f"{name} {value:.3f}" for name, value in zip(SCENE_CLASSES, iou))
        + f"; mean IoU {miou:.4f}"
    )
    print(
        f"training time: {train_time:.1f}s (total {time.perf_counter() - start:.1f}s); saved {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)"
    )


if __name__ == "__main__":
    main()
