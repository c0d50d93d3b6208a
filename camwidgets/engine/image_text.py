"""Image–text models (CLIP and its kind): the image tower the engine explains, and text prompts as targets.

A prompt's map explains the similarity between the image's embedding and the prompt's: the text tower
runs once per set of prompts (its embeddings are kept), and every map after that costs the image
tower's forward and backward alone. Two interfaces are read:

- open_clip's (``encode_image``, ``encode_text``, ``visual``, ``logit_scale``, and the tokenizer that
  ``open_clip.get_tokenizer`` gives), which the shapes CLIP (``camwidgets.data.shapes_clip``) shares;
- Hugging Face's ``CLIPModel`` (``get_image_features``, ``get_text_features``, ``vision_model``,
  ``visual_projection``) with its tokenizer; its image tower is :class:`HuggingFaceImageTower`, whose
  layers keep the model's names (``vision_model.encoder.layers.11``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .modules import evaluation_mode, model_device

__all__ = [
    "TextPromptTarget",
    "ImageTextModel",
    "HuggingFaceImageTower",
    "is_image_text_model",
    "MAX_PROMPT_CHARACTERS",
]

#: The longest prompt taken, in characters (a prompt is data: it is cut to no length, it is refused).
MAX_PROMPT_CHARACTERS = 200


class TextPromptTarget:
    r"""Score of one image for text prompt ``index``: ``s_p = scale * cos(e, t_p)`` between the image
    tower's output ``e`` and each prompt's text embedding ``t_p``; with several prompts (and ``softmax``,
    the default then) ``softmax_p(s)[index]``, as zero-shot classification reads them, else ``s_index``."""

    def __init__(
        self,
        text_embeddings: torch.Tensor,
        index: int = 0,
        scale: float = 100.0,
        softmax: bool | None = None,
        key: Hashable = None,
    ) -> None:
        embeddings = torch.as_tensor(text_embeddings).detach()
        if embeddings.ndim == 1:
            embeddings = embeddings[None]
        if embeddings.ndim != 2 or not 0 <= int(index) < embeddings.shape[0]:
            raise ValueError(
                f"text_embeddings must be (prompts, D) and index one of its rows; got {tuple(embeddings.shape)} and {index!r}"
            )
        self.text_embeddings = F.normalize(embeddings.float(), dim=-1)
        self.index = int(index)
        self.scale = float(scale)
        self.softmax = embeddings.shape[0] > 1 if softmax is None else bool(softmax)
        self._key = key if key is not None else ("embeddings", id(self.text_embeddings))

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        texts = self.text_embeddings.to(model_output.device)
        image = model_output.reshape(-1).float()
        if image.shape[0] != texts.shape[1]:
            raise ValueError(
                f"the image embedding has {image.shape[0]} values and the text embeddings {texts.shape[1]}; explain "
                "the model's image tower (ImageTextModel.image_tower), whose output is the image embedding"
            )
        scores = self.scale * (texts @ F.normalize(image, dim=0))
        return torch.softmax(scores, dim=0)[self.index] if self.softmax else scores[self.index]

    def cache_key(self) -> Hashable:
        return ("TextPromptTarget", self._key, self.index, self.scale, self.softmax)

    def __repr__(self) -> str:
        return f"TextPromptTarget(prompt {self.index} of {len(self.text_embeddings)})"


class HuggingFaceImageTower(nn.Module):
    """A Hugging Face ``CLIPModel``'s image side as one module: ``visual_projection(vision_model(x).pooler_output)``
    (its ``get_image_features``), with the model's own submodules and names."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.vision_model = model.vision_model
        self.visual_projection = model.visual_projection

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.visual_projection(self.vision_model(pixel_values=pixel_values).pooler_output)


def _is_open_clip(model: Any) -> bool:
    return all(callable(getattr(model, name, None)) for name in ("encode_image", "encode_text")) and isinstance(
        getattr(model, "visual", None), nn.Module
    )


def _is_hugging_face_clip(model: Any) -> bool:
    return all(callable(getattr(model, name, None)) for name in ("get_image_features", "get_text_features")) and all(
        isinstance(getattr(model, name, None), nn.Module) for name in ("vision_model", "visual_projection")
    )


def is_image_text_model(model: Any) -> bool:
    """Whether ``model`` has an interface :class:`ImageTextModel` reads (open_clip's or Hugging Face's CLIP)."""
    return isinstance(model, ImageTextModel) or _is_open_clip(model) or _is_hugging_face_clip(model)


class ImageTextModel:
    """An image–text model as the engine uses it: ``image_tower`` (the module explained, images to
    embeddings), ``text_embeddings(prompts)`` (kept for the last 32 sets of prompts) and
    ``prompt_target(prompts, index)``, the :class:`TextPromptTarget` at the model's own ``logit_scale``.

    ``tokenizer``: open_clip's (``open_clip.get_tokenizer(name)``), a Hugging Face tokenizer, or the shapes
    CLIP's; any callable from a list of strings to token ids (or a dict of tensors) works.
    """

    def __init__(self, model: nn.Module, tokenizer: Any) -> None:
        if isinstance(model, ImageTextModel):
            raise TypeError("model is already an ImageTextModel")
        if _is_open_clip(model):
            self.kind, self.image_tower = "open_clip", model.visual
        elif _is_hugging_face_clip(model):
            self.kind, self.image_tower = "hugging_face", HuggingFaceImageTower(model)
        else:
            raise TypeError(
                f"{type(model).__name__} is not an image–text model this reads: it reads open_clip's models (encode_image, "
                "encode_text, visual) and Hugging Face's CLIPModel (get_image_features, get_text_features)"
            )
        if not callable(tokenizer):
            raise TypeError(f"tokenizer must turn a list of prompts into token ids; got {type(tokenizer).__name__}")
        self.model = model
        self.tokenizer = tokenizer
        scale = getattr(model, "logit_scale", None)
        self.scale = float(scale.detach().exp()) if isinstance(scale, torch.Tensor) else 100.0
        self._texts: OrderedDict[tuple[str, ...], torch.Tensor] = OrderedDict()

    def text_embeddings(self, prompts: str | Sequence[str]) -> torch.Tensor:
        """(P, D) normalised text embeddings of the prompts, on the model's device (no gradients)."""
        key = check_prompts(prompts)
        if key in self._texts:
            self._texts.move_to_end(key)
            return self._texts[key]
        device = model_device(self.model)
        with torch.no_grad(), evaluation_mode(self.model):
            if self.kind == "open_clip":
                embeddings = self.model.encode_text(self.tokenizer(list(key)).to(device))
            else:
                tokens = self.tokenizer(list(key), padding=True, return_tensors="pt")
                embeddings = self.model.get_text_features(**{k: v.to(device) for k, v in tokens.items()})
                embeddings = getattr(embeddings, "pooler_output", embeddings)
        self._texts[key] = F.normalize(embeddings.float(), dim=-1)
        while len(self._texts) > 32:
            self._texts.popitem(last=False)
        return self._texts[key]

    def prompt_target(
        self, prompts: str | Sequence[str], index: int = 0, softmax: bool | None = None
    ) -> TextPromptTarget:
        """The target of prompt ``index`` among ``prompts`` (one prompt: its scaled cosine similarity)."""
        key = check_prompts(prompts)
        return TextPromptTarget(self.text_embeddings(key), index, self.scale, softmax, key=key)

    @torch.no_grad()
    def similarities(self, images: torch.Tensor, prompts: str | Sequence[str]) -> torch.Tensor:
        """(B, P) cosine similarities of the images' embeddings to the prompts'."""
        device = model_device(self.model)
        with evaluation_mode(self.image_tower):
            embeddings = F.normalize(self.image_tower(images.to(device)).float(), dim=-1)
        return embeddings @ self.text_embeddings(prompts).T


def check_prompts(prompts: Any) -> tuple[str, ...]:
    """Prompts as a tuple of non-empty strings of at most :data:`MAX_PROMPT_CHARACTERS` characters; ValueError else."""
    items = [prompts] if isinstance(prompts, str) else list(prompts) if isinstance(prompts, (list, tuple)) else None
    if not items or not all(isinstance(p, str) for p in items):
        raise ValueError(f"prompts must be a string or a list of strings; got {str(prompts)[:80]!r}")
    for prompt in items:
        if not prompt.strip():
            raise ValueError("a prompt is empty; type a phrase such as 'a red circle'")
        if len(prompt) > MAX_PROMPT_CHARACTERS:
            raise ValueError(f"a prompt of {len(prompt)} characters; at most {MAX_PROMPT_CHARACTERS} are taken")
    return tuple(p.strip() for p in items)
