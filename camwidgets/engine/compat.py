"""NumPy-facing helpers with the reference's names, for code that calls them directly."""

from __future__ import annotations

import numpy as np
import torch

from .smoothing import first_principal_component


def get_2d_projection(activation_batch: np.ndarray) -> np.ndarray:
    """(B, C, *s) activations -> (B, *s) float32: each image's first principal component
    (centred over positions; sign fixed so the largest-magnitude value is positive)."""
    return first_principal_component(torch.as_tensor(np.asarray(activation_batch))).numpy().astype(np.float32)
