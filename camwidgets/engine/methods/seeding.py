"""Seeded randomness for methods with a ``seed`` option (RandomCAM, SS-CAM, SmoothGrad-CAM++)."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["seeded_generator"]


def seeded_generator(seed: Any, device: torch.device) -> torch.Generator | None:
    """A generator on ``device`` seeded with ``seed``; None (torch's global generator) for no seed."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an integer or None; got {seed!r}")
    return torch.Generator(device=device).manual_seed(seed)
