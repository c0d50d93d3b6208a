"""Train the shapes ViT from scratch and save it to camwidgets/data/shapes_vit.pt.

    .venv/bin/python bench/train_shapes_vit.py [--epochs 10] [--train 12000] [--out PATH]

torchvision's ``VisionTransformer`` (``camwidgets.data.task_models.VIT_CONFIG`` with the convolutional
stem ``VIT_STEM``) on the one-shape images. Trained on the class label alone, with linear patch
embeddings, it stayed at chance for the first thousand steps and more (AdamW from 3e-4 to 2e-3,
warm-up, 4 px patches, distillation from the ShapesCNN): the class token has nothing to read until
the tokens know where the object is. Two changes make it learn in minutes: the convolutional stem,
and token labelling (Jiang et al., "All Tokens Matter: Token Labeling for
Training Better Vision Transformers", 2021): a linear head on every patch token predicts the class of
the object covering at least a quarter of its patch, or "background",

    loss = CE(head(class token), label) + CE(token head(patch tokens), token labels),

with AdamW, a linear warm-up and cosine decay, random flips (token labels flipped with the image)
and gradient clipping. Only the ViT ships; the token head is dropped. Deterministic on the CPU (fixed
seeds, 2 threads); about 11 minutes on a 2-core machine.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_shapes_cnn import accuracy, save, training_arguments  # noqa: E402

from camwidgets.data.shapes import CLASSES, make_shapes, normalise  # noqa: E402
from camwidgets.data.task_models import VIT_CONFIG, VIT_WEIGHTS, build_shapes_vit  # noqa: E402

#: A patch is labelled with the object's class when the object covers at least this share of it.
COVER = 0.25
BACKGROUND = len(CLASSES)


def token_labels(masks: torch.Tensor, labels: torch.Tensor, patch: int) -> torch.Tensor:
    """(N, h, w) int64: each patch's class (``labels``) where the (N, S, S) mask covers at least
    ``COVER`` of it, else ``BACKGROUND``."""
    cover = F.avg_pool2d(masks.float()[:, None], patch)[:, 0]
    return torch.where(cover >= COVER, labels[:, None, None], torch.full_like(labels[:, None, None], BACKGROUND))


def tokens_of(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The encoder's output (N, 1 + h * w, D), class token first: torchvision's forward up to the head."""
    tokens = model._process_input(x)
    return model.encoder(torch.cat([model.class_token.expand(len(x), -1, -1), tokens], dim=1))


def main() -> None:
    args = training_arguments(__doc__.splitlines()[0], 10, VIT_WEIGHTS, lr=1e-3, train=12000)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    start = time.perf_counter()
    train, held = make_shapes(args.train, seed=1), make_shapes(1000, seed=2)
    x_train, y_train = normalise(train.images), torch.from_numpy(train.labels)
    x_held, y_held = normalise(held.images), torch.from_numpy(held.labels)
    patch = VIT_CONFIG["patch_size"]
    t_train = token_labels(torch.from_numpy(train.masks), y_train, patch)
    print(f"data: {len(train)} train, {len(held)} held out, {time.perf_counter() - start:.1f}s", flush=True)

    model = build_shapes_vit()
    token_head = nn.Linear(VIT_CONFIG["hidden_dim"], len(CLASSES) + 1)
    parameters = list(model.parameters()) + list(token_head.parameters())
    optimiser = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=0.05)
    per_epoch = len(y_train) // args.batch
    steps, warm = args.epochs * per_epoch, 2 * per_epoch // 3
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * s / steps))
    )
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(y_train), generator=generator)
        total = 0.0
        for i in range(per_epoch):
            idx = order[i * args.batch : (i + 1) * args.batch]
            xb, tb = x_train[idx], t_train[idx]
            for dim in (-1, -2):  # flips keep the labels; the token grid flips with the image
                if torch.rand(1, generator=generator).item() < 0.5:
                    xb, tb = xb.flip(dim), tb.flip(dim)
            tokens = tokens_of(model, xb)
            loss = F.cross_entropy(model.heads(tokens[:, 0]), y_train[idx])
            loss = loss + F.cross_entropy(token_head(tokens[:, 1:]).reshape(-1, len(CLASSES) + 1), tb.reshape(-1))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(parameters, 1.0)
            optimiser.step()
            schedule.step()
            total += float(loss.detach())
        acc = accuracy(model, x_held, y_held)
        print(
            f"epoch {epoch + 1}/{args.epochs}: loss {total / per_epoch:.4f}, held-out accuracy {acc:.4f}, {time.perf_counter() - start:.0f}s",
            flush=True,
        )
    save(model, args.out)
    print(f"held-out accuracy (make_shapes(1000, seed=2)): {accuracy(model, x_held, y_held):.4f}")
    print(
        f"training time: {time.perf_counter() - start:.1f}s; saved {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)"
    )


if __name__ == "__main__":
    main()
