"""Train the ShapesCNN on synthetic shapes and save its weights to camwidgets/data/shapes_cnn.pt.

    .venv/bin/python bench/train_shapes_cnn.py [--epochs 8] [--train 6000] [--out PATH]

Deterministic on the CPU (fixed seeds, 2 threads); a few minutes on a 2-core machine.
``training_arguments``, ``fit`` and ``save`` are shared with ``bench/train_shortcut_cnn.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from camwidgets.data.shapes import make_shapes, normalise  # noqa: E402
from camwidgets.data.shapes_cnn import SHAPES_CNN_WEIGHTS, ShapesCNN  # noqa: E402


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 250) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(labels), batch):
        logits = model(images[start : start + batch])
        correct += int((logits.argmax(1) == labels[start : start + batch]).sum())
    return correct / len(labels)


def flip_images(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal and vertical flips of a batch (the shapes' labels do not change)."""
    if torch.rand(1, generator=generator).item() < 0.5:
        images = images.flip(-1)
    if torch.rand(1, generator=generator).item() < 0.5:
        images = images.flip(-2)
    return images


def fit(model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor, x_held: torch.Tensor, y_held: torch.Tensor,
        epochs: int, batch: int, lr: float, augment: Callable = flip_images, loss_fn: nn.Module | None = None,
        score: Callable = accuracy) -> float:  # fmt: skip
    """Adam with a one-cycle schedule, ``augment(batch, generator)`` on each batch (random flips by
    default), cross-entropy unless ``loss_fn``; prints each epoch's loss and held-out ``score``
    (accuracy); returns the training time in seconds."""
    torch.manual_seed(0)
    torch.set_num_threads(2)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(y_train) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(y_train), generator=generator)
        total = 0.0
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            xb, yb = augment(x_train[idx], generator), y_train[idx]
            loss = loss_fn(model(xb), yb)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        held = score(model, x_held, y_held)
        print(
            f"epoch {epoch + 1}/{epochs}: loss {total / len(y_train):.4f}, held-out {score.__name__} {held:.4f}, "
            f"{time.perf_counter() - start:.1f}s"
        )
    return time.perf_counter() - start


def save(model: nn.Module, path: Path) -> None:
    """The state_dict as float32, at ``path``."""
    state = {k: v.detach().to(torch.float32) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def fit_and_report(args: argparse.Namespace, build: Callable[[], nn.Module], train: tuple, held: tuple, held_name: str,
                   started: float, score: Callable = accuracy, **fit_options: Any) -> nn.Module:  # fmt: skip
    """The end of a training script: print the data's size and time, build the model (seed 0), fit
    it on ``train`` (inputs, labels), save it to ``args.out`` and print its held-out ``score`` on
    ``held`` and the training time."""
    print(f"data: {len(train[1])} train, {len(held[1])} held out, {time.perf_counter() - started:.1f}s")
    torch.manual_seed(0)
    model = build()
    seconds = fit(model, *train, *held, args.epochs, args.batch, args.lr, score=score, **fit_options)
    save(model, args.out)
    print(f"held-out {score.__name__.replace('_', ' ')} ({held_name}): {score(model, *held):.4f}")
    print(f"training time: {seconds:.1f}s; saved {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return model


def training_arguments(
    description: str, epochs: int, out: Path, lr: float = 3e-3, train: int = 6000, batch: int = 64
) -> argparse.Namespace:
    """The command line of a training script: --epochs, --train (images), --batch, --lr, --out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--train", type=int, default=train)
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--out", type=Path, default=out)
    return parser.parse_args()


def main() -> None:
    args = training_arguments(__doc__.splitlines()[0], 8, SHAPES_CNN_WEIGHTS)

    start = time.perf_counter()
    train = make_shapes(args.train, seed=1)
    held = make_shapes(1000, seed=2)
    x_train, y_train = normalise(train.images), torch.from_numpy(train.labels)
    x_held, y_held = normalise(held.images), torch.from_numpy(held.labels)
    print(f"data: {len(train)} train, {len(held)} held out, {time.perf_counter() - start:.1f}s")

    torch.manual_seed(0)
    model = ShapesCNN()
    train_time = fit(model, x_train, y_train, x_held, y_held, args.epochs, args.batch, args.lr)
    acc = accuracy(model, x_held, y_held)
    save(model, args.out)
    print(f"held-out accuracy (make_shapes(1000, seed=2)): {acc:.4f}")
    print(f"training time: {train_time:.1f}s; saved {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
