"""Text prompts: an image–text model's image embeddings ``(B, D)`` against typed phrases; the target is a
phrase (its scaled cosine similarity to each image), the phrases tried are the choices, each with its
similarity, and their maps sit side by side. A phrase is data: bounded in length
(:data:`~camwidgets.engine.image_text.MAX_PROMPT_CHARACTERS`), read by the model's tokenizer only, shown
as text. Made when the explorer is given an image–text model and its tokenizer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...engine import check_prompts
from ..state import ViewState
from .base import DEFAULT, Task, TaskContext

__all__ = ["TextPromptTask", "MOST_PHRASES"]

#: The most phrases one explorer keeps.
MOST_PHRASES = 24


class TextPromptTask(Task):
    """Phrases tried (``labels``, in the order typed) and each image's cosine similarity to each."""

    name = "text prompt"
    inferred = False  # made from an image–text model and its tokenizer
    per_label_maps = True  # the phrases' maps side by side
    label_maps_title = "One map per phrase tried, closest first (cosine; click to choose)"
    shows_class_search = False
    shows_prompt_box = True
    target_noun = "phrase"

    @classmethod
    def fits(cls, outputs: Any, images: int) -> bool:
        return isinstance(outputs, torch.Tensor) and outputs.ndim == 2 and outputs.shape[0] == images

    @classmethod
    def class_names(cls, outputs: Any, context: TaskContext) -> list[str]:
        return list(context.prompts)

    @classmethod
    def build(cls, outputs: Any, labels: list[str], context: TaskContext) -> Task:
        if context.image_text is None:
            raise ValueError(
                "the text prompt task needs an image–text model and its tokenizer: CAMExplorer(model, images, tokenizer=...)"
            )
        return cls(outputs, labels, context.names, context.image_text)

    def __init__(self, embeddings: torch.Tensor, prompts: Sequence[str], names: list[str], image_text: Any) -> None:
        self.names = names
        self.image_text = image_text
        self.image_embeddings = F.normalize(embeddings.detach().float(), dim=-1)
        self.labels: list[str] = []
        self.scores = np.zeros((len(names), 0), np.float32)  # (B, phrases) cosine similarities
        for phrase in prompts:
            self.add(phrase)

    def add(self, phrase: str) -> int:
        """The index of ``phrase`` among the phrases tried, added if new (its embedding computed once);
        ValueError for an empty or too long phrase, one the tokenizer refuses, or one phrase too many."""
        (text,) = check_prompts(phrase)
        if text in self.labels:
            return self.labels.index(text)
        if len(self.labels) >= MOST_PHRASES:
            raise ValueError(f"this explorer keeps at most {MOST_PHRASES} phrases; open another to try more")
        embedding = self.image_text.text_embeddings([text])  # the tokenizer's own error for words it cannot read
        cosines = (self.image_embeddings @ embedding.to(self.image_embeddings.device).T).cpu().numpy()
        self.scores = np.concatenate([self.scores, cosines.astype(np.float32)], axis=1)
        self.labels.append(text)
        return len(self.labels) - 1

    def present(self, image: int, most: int = 6) -> list[tuple[int, str, float]]:
        """The phrases tried, most similar first (their maps side by side)."""
        return self.ranked(image, most)

    def caption(self, image: int, state: ViewState) -> str:
        index = self._phrase(state, image)
        return f"cos {self.scores[image, index]:.2f} · {self.names[image]}"  # the number first: never cut off

    def default_text(self) -> str:
        return "each image's closest phrase"

    def target_options(self, state: ViewState) -> list[tuple[str, int]]:
        row = self.scores[state.image]
        return [(self.default_text(), DEFAULT)] + [
            (f"{phrase} · cosine {row[index]:.2f}", index) for index, phrase in enumerate(self.labels)
        ]

    def target_label(self, state: ViewState) -> str:
        index = self._phrase(state, state.image)
        closest = "" if state.target is not None else ", the closest phrase"
        return f'"{self.labels[index]}" (cosine {self.scores[state.image, index]:.3f}{closest})'

    def _phrase(self, state: ViewState, image: int) -> int:
        return state.target if state.target is not None else int(np.argmax(self.scores[image]))

    def check(self, state: ViewState, width: int, height: int) -> ViewState:
        super().check(state, width, height)
        if state.target is not None and not 0 <= state.target < len(self.labels):
            raise ValueError(f"target must be a phrase index from 0 to {len(self.labels) - 1}; got {state.target}")
        return state

    def label_target(self, index: int) -> Any:
        """Phrase ``index``'s target: its scaled cosine similarity to the image."""
        return self.image_text.prompt_target(self.labels[index], softmax=False)

    def targets(self, state: ViewState, images: Sequence[int]) -> list:
        return [self.label_target(self._phrase(state, image)) for image in images]
