"""Train the shapes detector (FasterRCNN on the frozen ImageNet mobilenet_v2) on the shapes scenes
and save its trained parts to camwidgets/data/shapes_detector_heads.pt.

    .venv/bin/pip install -e ".[train]"   # pycocotools, for the held-out mAP
    .venv/bin/python bench/train_shapes_detector.py [--epochs 10] [--train 2000] [--out PATH]

The backbone is frozen, so it runs once per scene; the RPN and the box head train on its cached
outputs through FasterRCNN's own modules (``model.rpn``, ``model.roi_heads``), so the losses are
torchvision's. Deterministic on the
CPU (fixed seeds, 2 threads); about 9 minutes on a 2-core machine. Prints the held-out COCO mAP@0.5 and mAP@[.5:.95] (pycocotools) on
200 scenes (seed 2).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_shapes_cnn import training_arguments  # noqa: E402

from camwidgets.data.scenes import SCENE_CLASSES, make_scenes, scene_targets  # noqa: E402
from camwidgets.data.task_models import DETECTOR_WEIGHTS, FROZEN, build_shapes_detector, trained_state  # noqa: E402


@torch.no_grad()
def frozen_features(model: torch.nn.Module, images: np.ndarray, batch: int = 50) -> torch.Tensor:
    """The backbone's output for every scene after the model's own transform, float16."""
    parts = []
    for start in range(0, len(images), batch):
        batch_images, _ = model.transform(list(torch.from_numpy(images[start : start + batch])))
        parts.append(model.backbone(batch_images.tensors).half())
    return torch.cat(parts)


@torch.no_grad()
def detect(model: torch.nn.Module, images: np.ndarray, batch: int = 25) -> list[dict[str, np.ndarray]]:
    model.eval()
    found = []
    for start in range(0, len(images), batch):
        for output in model(list(torch.from_numpy(images[start : start + batch]))):
            found.append({key: value.numpy() for key, value in output.items()})
    return found


def coco_map(truth: list[dict], found: list[dict], size: int) -> tuple[float, float]:
    """(mAP@0.5, mAP@[.5:.95]) by pycocotools' COCOeval over every class."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(box):
        return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]

    annotations, detections = [], []
    for image, (target, output) in enumerate(zip(truth, found)):
        for box, label in zip(target["boxes"], target["labels"]):
            annotations.append({"id": len(annotations) + 1, "image_id": image, "category_id": int(label), "bbox": xywh(box),
                                "area": float((box[2] - box[0]) * (box[3] - box[1])), "iscrowd": 0})  # fmt: skip
        for box, label, score in zip(output["boxes"], output["labels"], output["scores"]):
            detections.append({"image_id": image, "category_id": int(label), "bbox": xywh(box), "score": float(score)})
    ground = COCO()
    ground.dataset = {"images": [{"id": i, "width": size, "height": size} for i in range(len(truth))], "annotations": annotations,
                      "categories": [{"id": i, "name": name} for i, name in enumerate(SCENE_CLASSES) if i]}  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        ground.createIndex()
        evaluation = COCOeval(ground, ground.loadRes(detections) if detections else COCO(), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return float(evaluation.stats[1]), float(evaluation.stats[0])


def main() -> None:
    args = training_arguments(__doc__.splitlines()[0], 10, DETECTOR_WEIGHTS, lr=2e-3, train=2000, batch=8)
    from torchvision.models.detection.image_list import ImageList

    torch.manual_seed(0)
    torch.set_num_threads(2)
    start = time.perf_counter()
    train, held = make_scenes(args.train, seed=1), make_scenes(200, seed=2)
    model = build_shapes_detector()
    model.eval()
    cached = frozen_features(model, train.images)
    targets = [{key: torch.from_numpy(value) for key, value in target.items()} for target in scene_targets(train)]
    print(f"scenes and frozen features: {time.perf_counter() - start:.1f}s", flush=True)

    trained = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trained, lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * -(-args.train // args.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=args.lr, total_steps=steps)
    generator = torch.Generator().manual_seed(0)
    size = train.images.shape[-1]
    train_start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(args.train, generator=generator)
        totals: dict[str, float] = {}
        for i in range(0, args.train, args.batch):
            idx = order[i : i + args.batch]
            features = {"0": cached[idx].float()}
            images = ImageList(torch.zeros(len(idx), 3, size, size), [(size, size)] * len(idx))
            batch_targets = [targets[int(j)] for j in idx]
            proposals, rpn_losses = model.rpn(images, features, batch_targets)
            _, box_losses = model.roi_heads(features, proposals, images.image_sizes, batch_targets)
            losses = {**rpn_losses, **box_losses}
            loss = sum(losses.values())
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            for name, value in losses.items():
                totals[name] = totals.get(name, 0.0) + float(value.detach()) * len(idx)
        parts = ", ".join(f"{name} {value / args.train:.3f}" for name, value in totals.items())
        print(f"epoch {epoch + 1}/{args.epochs}: {parts}, {time.perf_counter() - train_start:.1f}s", flush=True)
    train_time = time.perf_counter() - train_start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(trained_state(model, FROZEN["detector"]), args.out)
    found = detect(model, held.images)
    map50, map_coco = coco_map(scene_targets(held), found, size)
    print(f"held-out (200 scenes, seed 2): mAP@0.5 {map50:.4f}, mAP@[.5:.95] {map_coco:.4f}")
    print(
        f"training time: {train_time:.1f}s (total {time.perf_counter() - start:.1f}s); saved {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)"
    )


if __name__ == "__main__":
    main()
