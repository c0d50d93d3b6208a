"""Train the shapes CLIP (image head on the frozen ImageNet mobilenet_v2, and the text tower) contrastively
on the captioned scenes and save it to camwidgets/data/shapes_clip.pt.

    .venv/bin/python bench/train_shapes_clip.py [--epochs 40] [--train 5000] [--batch 128] [--out PATH]

The backbone is frozen, so its features are computed once per scene. Each epoch pairs every scene with
a fresh phrase naming one of its objects (``captions.random_phrase``). The loss is CLIP's symmetric
cross-entropy over the batch's image-phrase similarities, with every pair whose scene holds an object the
phrase describes counted as a match (a phrase such as "a red circle" may fit several scenes of a batch).
Deterministic on the CPU (fixed seeds, 2 threads); about 7 minutes on a 2-core machine. Prints, on 200
held-out scenes (seed 2): zero-shot accuracy (each one-object scene's colour and shape among the 24
"a {colour} {shape}" prompts) and retrieval recall at 1 and 5 (each object's "a {colour} {shape}" among
the 200 scenes: a scene holding such an object in the top k).
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
from camwidgets.data.captions import COLOURS, PLACES, SIZES, CaptionedScenes, make_captioned_scenes, random_phrase  # noqa: E402
from camwidgets.data.shapes import CLASSES  # noqa: E402
from camwidgets.data.shapes_clip import CLIP_WEIGHTS, FROZEN, ShapesTokenizer, build_shapes_clip  # noqa: E402
from camwidgets.data.task_models import trained_state  # noqa: E402

MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
#: The zero-shot prompts: every colour and shape.
PROMPTS = [(colour, shape) for colour in COLOURS for shape in CLASSES]


def imagenet(images: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(images) - MEAN) / STD


@torch.no_grad()
def backbone_features(features: torch.nn.Module, images: np.ndarray, batch: int = 50) -> torch.Tensor:
    """The frozen backbone's (N, 96, 14, 14) output for every scene, float16 to halve the memory."""
    return torch.cat([features(imagenet(images[i : i + batch])).half() for i in range(0, len(images), batch)])


def phrase_fits(words: str, scene: list) -> bool:
    """Whether some object of the scene has every attribute the phrase names (its shape, and its colour,
    size and place where named)."""
    named = set(words.split())

    def fits(item) -> bool:
        return all(
            value in named or not (named & set(choices))
            for value, choices in (
                (item.shape, CLASSES),
                (item.colour, COLOURS),
                (item.size, SIZES),
                (item.place, PLACES),
            )
        )

    return any(fits(item) for item in scene)


def matches(phrases: list[str], scenes: list[list]) -> torch.Tensor:
    """(N, N) 1 where phrase j fits scene i."""
    return torch.tensor([[phrase_fits(p, s) for p in phrases] for s in scenes], dtype=torch.float32)


def clip_loss(images: torch.Tensor, texts: torch.Tensor, scale: torch.Tensor, fits: torch.Tensor) -> torch.Tensor:
    """Symmetric cross-entropy of the scaled cosine similarities against the matches, each row's matches
    sharing the probability."""
    logits = scale * F.normalize(images, dim=-1) @ F.normalize(texts, dim=-1).T
    image_side = -(fits / fits.sum(1, keepdim=True) * logits.log_softmax(dim=1)).sum(1).mean()
    text_side = -(fits.T / fits.T.sum(1, keepdim=True) * logits.T.log_softmax(dim=1)).sum(1).mean()
    return (image_side + text_side) / 2


@torch.no_grad()
def evaluate(model: torch.nn.Module, tokenizer: ShapesTokenizer, held: CaptionedScenes) -> dict[str, float]:
    model.eval()
    images = torch.cat([model.encode_image(imagenet(held.images[i : i + 50]), True) for i in range(0, len(held), 50)])
    texts = model.encode_text(tokenizer([f"a {c} {s}" for c, s in PROMPTS]), True)
    similarity = images @ texts.T  # (scenes, prompts)
    single = [i for i, objects in enumerate(held.objects) if len(objects) == 1]
    truth = [PROMPTS.index((held.objects[i][0].colour, held.objects[i][0].shape)) for i in single]
    accuracy = float((similarity[single].argmax(1) == torch.tensor(truth)).float().mean())
    queries = [(PROMPTS.index((o.colour, o.shape)), i) for i, objects in enumerate(held.objects) for o in objects]
    hits = {1: 0, 5: 0}
    for prompt, _ in queries:
        ranked = similarity[:, prompt].argsort(descending=True).tolist()
        holding = {
            i for i, objects in enumerate(held.objects) if any((o.colour, o.shape) == PROMPTS[prompt] for o in objects)
        }
        for k in hits:
            hits[k] += bool(holding & set(ranked[:k]))
    return {"zero-shot accuracy": accuracy, "one-object scenes": len(single),
            "recall@1": hits[1] / len(queries), "recall@5": hits[5] / len(queries), "queries": len(queries)}  # fmt: skip


def main() -> None:
    args = training_arguments(__doc__.splitlines()[0], 40, CLIP_WEIGHTS, lr=2e-3, train=5000, batch=128)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    start = time.perf_counter()
    train, held = make_captioned_scenes(args.train, seed=1), make_captioned_scenes(200, seed=2)
    model = build_shapes_clip()
    model.eval()
    features = backbone_features(model.visual.features, train.images)
    print(f"scenes and backbone features: {time.perf_counter() - start:.1f}s")

    tokenizer = ShapesTokenizer()
    trained = [p for name, p in model.named_parameters() if not name.startswith(FROZEN)]
    optimiser = torch.optim.AdamW(trained, lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * -(-args.train // args.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=args.lr, total_steps=steps)
    generator = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    train_start = time.perf_counter()
    for epoch in range(args.epochs):
        model.visual.head.train()
        model.text.train()
        order = torch.randperm(args.train, generator=generator)
        phrases = [random_phrase(rng, objects[int(rng.integers(len(objects)))]) for objects in train.objects]
        total = 0.0
        for i in range(0, args.train, args.batch):
            idx = order[i : i + args.batch].tolist()
            batch_phrases = [phrases[j] for j in idx]
            images = model.visual.head(features[idx].float()).mean(dim=(2, 3))
            texts = model.encode_text(tokenizer(batch_phrases))
            scale = model.logit_scale.exp().clamp(max=100)
            loss = clip_loss(images, texts, scale, matches(batch_phrases, [train.objects[j] for j in idx]))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        print(
            f"epoch {epoch + 1}/{args.epochs}: loss {total / args.train:.4f}, {time.perf_counter() - train_start:.1f}s",
            flush=True,
        )
    train_time = time.perf_counter() - train_start
    model.eval()
    scores = evaluate(model, tokenizer, held)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(trained_state(model, FROZEN), args.out)
    print("held out: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in scores.items()))
    print(
        f"training time: {train_time:.1f}s (total {time.perf_counter() - start:.1f}s); saved {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)"
    )


if __name__ == "__main__":
    main()
