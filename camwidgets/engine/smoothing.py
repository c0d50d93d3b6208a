"""Smoothing: test-time augmentation (``aug_smooth``) and the first principal component
(``eigen_smooth``, also the core of EigenCAM)."""

from __future__ import annotations

import torch

__all__ = [
    "BRIGHTNESS_FACTORS",
    "augment",
    "deaugment_mean",
    "first_principal_component",
    "positive_peak",
    "AUGMENTATIONS",
]

BRIGHTNESS_FACTORS = (0.9, 1.0, 1.1)
# (horizontal flip, brightness factor) for each copy, in the reference's order.
AUGMENTATIONS = tuple((flip, factor) for flip in (False, True) for factor in BRIGHTNESS_FACTORS)


def augment(batch: torch.Tensor) -> torch.Tensor:
    """Stack the six augmented copies of a (B, C, H, W) batch into one (6B, C, H, W) batch:
    horizontal flip (no/yes) x multiply by 0.9 / 1.0 / 1.1 (the reference's test-time augmentation)."""
    copies = []
    for flip, factor in AUGMENTATIONS:
        copy = batch.flip(-1) if flip else batch
        copies.append(copy * factor)
    return torch.cat(copies, dim=0)


def deaugment_mean(maps: torch.Tensor) -> torch.Tensor:
    """Undo the flips of (6B, H, W) maps made from :func:`augment`'s batch and average the six copies."""
    groups = maps.reshape(len(AUGMENTATIONS), -1, *maps.shape[1:])
    restored = [group.flip(-1) if flip else group for group, (flip, _) in zip(groups, AUGMENTATIONS)]
    return torch.stack(restored).mean(dim=0)


def first_principal_component(activations: torch.Tensor) -> torch.Tensor:
    """Project each image's (C, *s) activations on their first principal direction.

    With ``M`` the (positions x channels) matrix centred over positions and ``M = U S V^T`` its thin
    SVD, the map is ``M v_1 = s_1 u_1``. It is computed from the smaller Gram matrix, in float64:
    ``u_1`` is the top eigenvector of ``M M^T`` (and ``s_1^2`` its eigenvalue) when there are fewer
    positions than channels, else ``v_1`` is the top eigenvector of ``M^T M``. The sign of a singular
    vector is arbitrary; we fix it so the map's largest-magnitude value is positive (the reference
    leaves it to LAPACK, except in SegEigenCAM, which uses this same rule). NaNs count as zero.
    """
    batch, channels = activations.shape[:2]
    spatial = activations.shape[2:]
    matrix = torch.nan_to_num(activations.detach().double()).reshape(batch, channels, -1).transpose(1, 2)
    matrix = matrix - matrix.mean(dim=1, keepdim=True)
    positions = matrix.shape[1]
    if positions <= channels:
        values, vectors = torch.linalg.eigh(matrix @ matrix.transpose(1, 2))
        projection = vectors[:, :, -1] * values[:, -1:].clamp(min=0).sqrt()
    else:
        _, vectors = torch.linalg.eigh(matrix.transpose(1, 2) @ matrix)
        projection = (matrix @ vectors[:, :, -1:]).squeeze(-1)
    return (
        positive_peak(projection)
        .reshape(batch, *spatial)
        .to(activations.dtype if activations.is_floating_point() else torch.float32)
    )


def positive_peak(projection: torch.Tensor) -> torch.Tensor:
    """Fix the arbitrary sign of (B, N) projections: each row is negated when ``|min| > |max|``, so
    its largest-magnitude value is positive (a tie keeps the sign). This is SegEigenCAM's sign
    correction and, up to ties, scikit-learn's ``svd_flip`` rule used by its KernelPCA."""
    flip = projection.amin(dim=1).abs() > projection.amax(dim=1).abs()
    return torch.where(flip[:, None], -projection, projection)
