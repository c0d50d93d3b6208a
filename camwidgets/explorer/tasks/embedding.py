"""Embeddings: ``(B, D)``; the target is a concept, another image's embedding or that of a box
dragged on an image (``SimilarityToConceptTarget``), with the cosine similarity shown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...engine import SimilarityToConceptTarget
from ..state import ViewState
from .base import Task, TaskContext

__all__ = ["EmbeddingTask", "EMBEDDING_KEYS"]

#: Keys of a backbone's output that hold one embedding per image, in order of preference.
EMBEDDING_KEYS = ("image_embeds", "pooler_output")


class EmbeddingTask(Task):
    """``(B, D)`` embeddings; the concept is image ``concept``'s embedding, or that of a rectangle of
    it (cropped and resized to the input size); the score is the cosine similarity to it."""

    name = "embedding"
    inferred = False  # (B, D) reads as a classifier: asked for by name, or found under a backbone's embedding key
    resets_on_image = ()
    uses = ("concept", "region")
    shows_class_search = False  # concepts are images, not classes

    @classmethod
    def fits(cls, outputs: Any, images: int) -> bool:
        return isinstance(outputs, torch.Tensor) and outputs.ndim == 2 and outputs.shape[0] == images

    @classmethod
    def selector(cls, raw: Any, context: TaskContext) -> Any:
        """The key of a (B, D) image embedding in a backbone's dict-like output without class scores
        (``logits``): DINOv2's or CLIP's vision tower's."""
        if not isinstance(raw, Mapping) or "logits" in raw:
            return None
        return next(
            (key for key in EMBEDDING_KEYS if isinstance(raw.get(key), torch.Tensor) and raw[key].ndim == 2), None
        )

    @classmethod
    def class_names(cls, outputs: Any, context: TaskContext) -> list[str]:
        return []

    @classmethod
    def build(cls, outputs: Any, labels: list[str], context: TaskContext) -> Task:
        return cls(outputs, context.names, context.embed, context.batch)

    def start_state(self) -> ViewState:
        return ViewState(concept=0)

    def region_changes(self, box: tuple | None, state: ViewState) -> dict[str, Any]:
        """A rectangle becomes the concept, with the image shown as the concept image."""
        return {"region": box} if box is None else {"region": box, "concept": state.image}

    def __init__(self, embeddings: torch.Tensor, names: list[str], embed: Any, batch: torch.Tensor) -> None:
        self.labels, self.names = [], names
        self.embeddings = embeddings.detach()
        self.embed, self.batch = embed, batch
        self._concepts: dict[tuple, torch.Tensor] = {}
        self._targets: dict[tuple, SimilarityToConceptTarget] = {}

    def concept_vector(self, state: ViewState) -> torch.Tensor:
        """The concept's embedding (kept, so the capture cache knows it again)."""
        concept = 0 if state.concept is None else state.concept
        key = (concept, state.region)
        if key not in self._concepts:
            if state.region is None:
                self._concepts[key] = self.embeddings[concept]
            else:
                x1, y1, x2, y2 = state.region
                crop = self.batch[concept : concept + 1, :, y1:y2, x1:x2]
                crop = F.interpolate(crop, size=tuple(self.batch.shape[-2:]), mode="bilinear", align_corners=False)
                self._concepts[key] = self.embed(crop)[0].detach()
        return self._concepts[key]

    def cosines(self, state: ViewState) -> np.ndarray:
        """(B,) cosine similarity of every image to the concept."""
        concept = self.concept_vector(state).to(self.embeddings.device, self.embeddings.dtype)
        return F.cosine_similarity(self.embeddings.float(), concept.float()[None], dim=1).cpu().numpy()

    def ranked(self, image: int, k: int = 5) -> list[tuple[int, str, float]]:
        return []

    def caption(self, image: int, state: ViewState) -> str:
        return f"cos {self.cosines(state)[image]:.2f} · {self.names[image]}"  # the number first: never cut off

    def concept_text(self, state: ViewState) -> str:
        concept = 0 if state.concept is None else state.concept
        if state.region is None:
            return self.names[concept]
        x1, y1, x2, y2 = state.region
        return f"box ({x1}, {y1})–({x2}, {y2}) of {self.names[concept]}"

    def target_options(self, state: ViewState) -> list[tuple[str, int]]:
        shown = self.embeddings[state.image].float()
        cosines = (
            F.cosine_similarity(self.embeddings.float(), shown[None], dim=1).cpu().numpy()
        )  # each candidate's to the image shown
        options = [(f"concept: {name} · cosine {c:.2f}", k) for k, (name, c) in enumerate(zip(self.names, cosines))]
        if state.region is not None:
            options.append((f"concept: {self.concept_text(state)}", len(self.names)))
        return options

    def option_value(self, state: ViewState) -> int:
        return len(self.names) if state.region is not None else (0 if state.concept is None else state.concept)

    def option_changes(self, value: int) -> dict[str, Any]:
        return {} if value >= len(self.names) else {"concept": int(value), "region": None}

    def target_label(self, state: ViewState) -> str:
        return f"similarity to {self.concept_text(state)} (cosine {self.cosines(state)[state.image]:.3f})"

    def check(self, state: ViewState, width: int, height: int) -> Any:
        super().check(state, width, height)
        if state.concept is None:
            raise ValueError("concept must be an image index")
        if not 0 <= state.concept < len(self.names):
            raise ValueError(f"concept must be an image index from 0 to {len(self.names) - 1}; got {state.concept}")
        return state

    def targets(self, state: ViewState, images: Sequence[int]) -> list:
        key = (state.concept, state.region)
        if key not in self._targets:
            self._targets[key] = SimilarityToConceptTarget(self.concept_vector(state))
        return [self._targets[key]] * len(images)

    def annotations(self, state: ViewState) -> dict[str, Any]:
        region = list(state.region) if state.region is not None and state.concept == state.image else None
        return {"boxes": [], "outlines": [], "region": region, "draw": "region"}
