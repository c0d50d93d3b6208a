"""Deep Feature Factorization: concepts from the NMF of a layer's activations."""

from __future__ import annotations

__all__: list[str] = []
