"""A small CLIP-style image–text model trained on the captioned scenes (``camwidgets.data.captions``),
with open_clip's interface (``encode_image``, ``encode_text``, ``visual``, ``logit_scale`` and a tokenizer),
so that everything that explains open_clip models explains it.

* Image tower (``visual``): the pretrained ImageNet mobilenet_v2's ``features`` up to stride 16
  (``features.13``, 96 channels, frozen: it does not ship), then a trained head: a 3 x 3 convolution
  to 128 channels with batch norm and ReLU, and a 1 x 1 convolution to the 64-d embedding space at each
  place (``visual.head.embed``, 14 x 14 at 224 px; :data:`CLIP_LAYER` in the tower's names); the image embedding is their mean over places.
  Input: ImageNet-normalised (B, 3, 224, 224) images.
* Text tower: the phrase's words (:data:`~camwidgets.data.captions.VOCABULARY`) embedded in 64-d with
  learned positions, two pre-norm transformer blocks of 4 heads (``nn.MultiheadAttention``), causal as
  CLIP's, the end token's state normalised and projected to the embedding space.
* ``logit_scale``: the learned inverse temperature (log), as CLIP's.

``load_shapes_clip()`` returns the trained model (eval mode, CPU) and its tokenizer; the training script
is ``bench/train_shapes_clip.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .captions import VOCABULARY

__all__ = [
    "CLIP_WEIGHTS", "CLIP_LAYER", "EMBED_DIM", "ShapesTokenizer", "ShapesCLIP", "build_shapes_clip", "load_shapes_clip",
]  # fmt: skip

CLIP_WEIGHTS: Path = Path(__file__).resolve().parent / "shapes_clip.pt"
#: The layer to explain, named in the image tower (``model.visual``, the module explained): the per-place
#: embeddings (14 x 14 at 224 px).
CLIP_LAYER = "head.embed"
EMBED_DIM = 64
#: Longest phrase in words (the tokens add a start and an end).
MAX_WORDS = 10


class ShapesTokenizer:
    """Phrases -> (N, MAX_WORDS + 2) token ids: 1 (start), the words, 2 (end), zeros after. Words are
    lower-cased and split on spaces; a word outside the vocabulary, or a phrase of more than
    ``MAX_WORDS`` words, is a ValueError that says which."""

    context_length = MAX_WORDS + 2
    vocabulary = VOCABULARY

    def __init__(self) -> None:
        self.ids = {word: index + 3 for index, word in enumerate(VOCABULARY)}

    def __call__(self, texts: str | Sequence[str]) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else list(texts)
        rows = torch.zeros(len(texts), self.context_length, dtype=torch.long)
        for row, text in enumerate(texts):
            words = str(text).lower().replace(",", " ").split()
            if not words:
                raise ValueError("an empty phrase; type words such as 'a red circle'")
            if len(words) > MAX_WORDS:
                raise ValueError(f"a phrase of {len(words)} words; the shapes CLIP reads at most {MAX_WORDS}")
            unknown = [word for word in words if word not in self.ids]
            if unknown:
                raise ValueError(
                    f"{unknown[0][:40]!r} is not a word the shapes CLIP knows; its words: {', '.join(VOCABULARY)}"
                )
            rows[row, : len(words) + 2] = torch.tensor([1, *(self.ids[word] for word in words), 2])
        return rows


class _ImageHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(96, 128, 3, padding=1, bias=False), nn.BatchNorm2d(128), nn.ReLU())
        self.embed = nn.Conv2d(128, EMBED_DIM, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.embed(self.conv(features))


class ImageTower(nn.Module):
    """Frozen mobilenet_v2 ``features[:14]``, the trained head, the mean over places."""

    def __init__(self, features: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.head = _ImageHead()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images)).mean(dim=(2, 3))


class _Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class TextTower(nn.Module):
    def __init__(self, width: int = 64, layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(len(VOCABULARY) + 3, width)
        self.positional_embedding = nn.Parameter(torch.randn(MAX_WORDS + 2, width) * 0.02)
        self.blocks = nn.ModuleList(_Block(width, heads) for _ in range(layers))
        self.ln_final = nn.LayerNorm(width)
        self.projection = nn.Linear(width, EMBED_DIM, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        count = tokens.shape[1]
        x = self.token_embedding(tokens) + self.positional_embedding[:count]
        causal = torch.ones(count, count, dtype=torch.bool, device=tokens.device).triu(1)
        for block in self.blocks:
            x = block(x, causal)
        ends = (tokens == 2).int().argmax(dim=1)
        return self.projection(self.ln_final(x[torch.arange(len(tokens)), ends]))


class ShapesCLIP(nn.Module):
    """The two towers and the temperature, with open_clip's methods."""

    def __init__(self, features: nn.Module) -> None:
        super().__init__()
        self.visual = ImageTower(features)
        self.text = TextTower()
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, images: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        features = self.visual(images)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        features = self.text(tokens)
        return F.normalize(features, dim=-1) if normalize else features

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(normalised image features, normalised text features, logit scale), as open_clip's CLIP."""
        return self.encode_image(images, True), self.encode_text(tokens, True), self.logit_scale.exp()


def build_shapes_clip(pretrained: bool = True) -> ShapesCLIP:
    """The model untrained, on the ImageNet mobilenet_v2 (``pretrained=False``: a random one, for tests)."""
    from torchvision.models import mobilenet_v2

    backbone = mobilenet_v2(weights="IMAGENET1K_V1" if pretrained else None)
    return ShapesCLIP(backbone.features[:14])


#: What of the model stays at ImageNet weights (and does not ship).
FROZEN = "visual.features."


def load_shapes_clip() -> tuple[ShapesCLIP, ShapesTokenizer]:
    """The trained shapes CLIP in eval mode on the CPU, and its tokenizer."""
    from .task_models import _load_trained

    model = _load_trained(build_shapes_clip(), CLIP_WEIGHTS, "train_shapes_clip.py", FROZEN)
    return model, ShapesTokenizer()
