"""Speed of the transformer-native methods and of text-prompt maps, in one process.

* torchvision's ``vit_b_16`` (seeded random weights, the head drawn at random), a batch of 8 images of
  224 px: AttentionRollout and GradientWeightedAttention through all 12 blocks against a plain forward
  (``no_grad``) and a forward and backward (the top scores' gradient with respect to the parameters,
  a training step's work); LeGrad on the last 4 blocks against torchcam 0.5.0's ``LeGrad`` (each
  constructed in the timed region, as users call them), with the largest difference of their maps.
* The shapes CLIP's image tower, a batch of 8 scenes: GradCAM at ``head.embed`` for a text prompt whose
  embedding is already kept (``ImageTextModel``) against the tower's forward and backward.

Rounds interleave every contender, alternating their order; each ratio is the median over rounds of
the two times of the same round. Targets: rollout at most 1.2x a forward, gradient-weighted attention
at most 1.2x a forward and backward, LeGrad at least 2x faster than torchcam's, a text-prompt map at
most 1.1x the tower's forward and backward.

    .venv/bin/python bench/attention.py              # 7 rounds
    .venv/bin/python bench/attention.py --quick      # 2 rounds, a smoke test

Prints the table and writes bench/results/attention.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from report import publish, verdict_lines
from spacetime import forward, forward_backward, ratio, rounds

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import camwidgets as cw  # noqa: E402
from camwidgets.core.images import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from camwidgets.data.captions import make_captioned_scenes  # noqa: E402
from camwidgets.data.shapes_clip import CLIP_LAYER  # noqa: E402
from camwidgets.engine.maps import normalise_per_image, upsample  # noqa: E402

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "attention.md"
TARGETS = {
    "rollout / forward": ("<=", 1.2),
    "gradient-weighted attention / (forward + backward)": ("<=", 1.2),
    "torchcam LeGrad / ours": (">=", 2.0),
    "text-prompt map / tower's (forward + backward)": ("<=", 1.1),
}


def vit_workload(count: int) -> tuple[dict[str, float], list[str]]:
    from torchcam.methods import LeGrad
    from torchvision.models import vit_b_16

    torch.manual_seed(0)
    model = vit_b_16().eval()
    torch.nn.init.normal_(model.heads.head.weight, std=0.02)
    x = torch.randn(8, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        classes = model(x).argmax(1).tolist()
    last = list(model.encoder.layers)[-4:]

    def theirs() -> torch.Tensor:
        with LeGrad(model, last) as extractor:
            return extractor(classes, model(x))[0]

    def ours_legrad() -> np.ndarray:
        return cw.LeGrad(model, last)(x, classes)

    times = rounds(
        {
            "forward": lambda: forward(model, x),
            "forward + backward": lambda: forward_backward(model, x),
            "rollout": lambda: cw.AttentionRollout(model, [model.encoder.layers])(x),
            "gradient-weighted": lambda: cw.GradientWeightedAttention(model, [model.encoder.layers])(x, classes),
            "LeGrad": ours_legrad,
            "torchcam LeGrad": theirs,
        },
        count,
    )
    difference = float(
        (torch.from_numpy(ours_legrad()) - normalise_per_image(upsample(theirs(), (224, 224)))).abs().max()
    )
    ratios = {
        "rollout / forward": ratio(times, "rollout", "forward"),
        "gradient-weighted attention / (forward + backward)": ratio(times, "gradient-weighted", "forward + backward"),
        "torchcam LeGrad / ours": ratio(times, "torchcam LeGrad", "LeGrad"),
    }
    ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
    rows = [
        f"| vit_b_16, 8 x 224 px | forward {ms['forward']:.0f} ms, forward + backward {ms['forward + backward']:.0f} ms "
        f"| rollout {ms['rollout']:.0f} ms ({ratios['rollout / forward']:.2f}x forward); gradient-weighted "
        f"{ms['gradient-weighted']:.0f} ms ({ratios['gradient-weighted attention / (forward + backward)']:.2f}x forward + backward) "
        f"| LeGrad {ms['LeGrad']:.0f} ms, torchcam's {ms['torchcam LeGrad']:.0f} ms ({ratios['torchcam LeGrad / ours']:.1f}x); "
        f"maps differ by {difference:.1e} |"
    ]
    return ratios, rows


def prompt_workload(count: int) -> tuple[dict[str, float], list[str]]:
    model, tokenizer = cw.load_shapes_clip()
    clip = cw.ImageTextModel(model, tokenizer)
    tower = clip.image_tower
    images = torch.from_numpy(make_captioned_scenes(8, seed=5).images)
    x = (images - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)
    clip.text_embeddings(["a red circle"])  # kept: what the explorer has after the first map of a phrase

    def tower_forward_backward() -> None:
        parameters = [p for p in tower.parameters() if p.requires_grad]
        torch.autograd.grad(tower(x).sum(), parameters)

    times = rounds(
        {
            "forward + backward": tower_forward_backward,
            "text-prompt map": lambda: cw.GradCAM(tower, [CLIP_LAYER])(x, [clip.prompt_target("a red circle")] * 8),
        },
        count,
    )
    value = ratio(times, "text-prompt map", "forward + backward")
    ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
    rows = [
        f"| shapes CLIP image tower, 8 x 224 px | forward + backward {ms['forward + backward']:.0f} ms "
        f"| text-prompt GradCAM {ms['text-prompt map']:.0f} ms ({value:.2f}x) | — |"
    ]
    return {"text-prompt map / tower's (forward + backward)": value}, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds (a smoke test)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    count = 2 if args.quick else args.rounds
    vit_ratios, vit_rows = vit_workload(count)
    prompt_ratios, prompt_rows = prompt_workload(count)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    verdicts = verdict_lines((name, value, *TARGETS[name]) for name, value in {**vit_ratios, **prompt_ratios}.items())
    text = "\n".join(
        [
            f"Attention methods and text prompts — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores, torch {torch.__version__}, load {load:.2f}, medians of {count} rounds",
            "",
            "| workload | baselines | ours | against torchcam 0.5.0 |",
            "|---|---|---|---|",
            *vit_rows,
            *prompt_rows,
            "",
            *verdicts,
        ]
    )
    publish(text, RESULTS_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
