"""Synthetic volumes with exact ground truth: one to three solids in a noisy 3-D scan.

Each volume (one channel, CT-like: bright solids on a dim, noisy, smoothly varying background)
holds one to three different solids out of ``SOLIDS`` (sphere, cube, torus, cylinder), apart
from each other, at random places, sizes and orientations; which are present is the multi-label
target. Every solid is drawn from its own voxel mask, so the masks are exact: a 3-D CAM for
"torus" can be checked against the torus's voxels.

>>> from camwidgets.data.solids import make_solids
>>> batch = make_solids(4, size=32, seed=0)
>>> batch.volumes.shape, batch.labels.shape, batch.masks.shape
((4, 1, 32, 32, 32), (4, 4), (4, 4, 32, 32, 32))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .batch_rows import BatchRows

__all__ = ["SOLIDS", "SolidsBatch", "SolidsDataset", "make_solids", "solid_mask"]

#: Class names, in label order.
SOLIDS: tuple[str, ...] = ("sphere", "cube", "torus", "cylinder")

#: A solid's extent (its largest diameter) as a fraction of the volume's side.
_EXTENT = (0.38, 0.50)
#: Voxels kept free between two solids' bounding spheres.
_GAP = 2.0


@dataclass(frozen=True)
class SolidsBatch:
    """Generated volumes with their ground truth.

    ``volumes``: float32 (N, 1, S, S, S), about zero mean and unit spread. ``labels``: float32
    (N, len(SOLIDS)), 1 where the solid is present. ``masks``: bool (N, len(SOLIDS), S, S, S), each
    solid's exact voxels (empty for an absent one)."""

    volumes: np.ndarray
    labels: np.ndarray
    masks: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


class SolidsDataset(BatchRows):
    """The volumes of a :class:`SolidsBatch` as :func:`~camwidgets.explain_dataset` reads them:
    ``{"image": (1, S, S, S) float32, "label": the first present solid, "path": "solids/NNNNN"}``."""

    classes = list(SOLIDS)
    field = "volumes"
    prefix = "solids"

    def label(self, index: int) -> int:
        return int(np.argmax(self.batch.labels[index]))  # the first solid present


def _grid(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    axis = np.arange(size, dtype=np.float32) + 0.5
    return np.meshgrid(axis, axis, axis, indexing="ij")


def _rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3-D rotation matrix (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def solid_mask(kind: str, size: int, centre: np.ndarray, extent: float, rotation: np.ndarray) -> np.ndarray:
    """The voxels of one solid: ``kind`` in SOLIDS, centred at ``centre`` (voxels), ``extent`` its
    largest diameter, turned by ``rotation`` (cubes, tori and cylinders)."""
    z, y, x = _grid(size)
    local = np.stack([z - centre[0], y - centre[1], x - centre[2]], axis=-1) @ rotation
    a, b, c = local[..., 0], local[..., 1], local[..., 2]
    radius = extent / 2
    if kind == "sphere":
        return a**2 + b**2 + c**2 <= radius**2
    if kind == "cube":
        half = extent / (2 * np.sqrt(3))  # the diagonal is the extent
        return (np.abs(a) <= half) & (np.abs(b) <= half) & (np.abs(c) <= half)
    if kind == "torus":
        tube = radius * 0.38
        ring = radius - tube
        return (np.sqrt(a**2 + b**2) - ring) ** 2 + c**2 <= tube**2
    if kind == "cylinder":  # a rod, longer than wide, unlike the cube
        half_height = radius * 0.95
        disc = radius * 0.42
        return (a**2 + b**2 <= disc**2) & (np.abs(c) <= half_height)
    raise ValueError(f"kind must be one of {', '.join(SOLIDS)}; got {kind!r}")


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smoothly varying tissue-like intensity plus voxel noise."""
    coarse = rng.normal(0.0, 0.25, size=(4, 4, 4)).astype(np.float32)
    smooth = torch.nn.functional.interpolate(
        torch.from_numpy(coarse)[None, None], size=(size,) * 3, mode="trilinear", align_corners=False
    )[0, 0].numpy()
    return smooth + rng.normal(0.0, 0.3, size=(size,) * 3).astype(np.float32)


def _place(rng: np.random.Generator, size: int, extents: list[float]) -> list[np.ndarray] | None:
    """Centres for solids of these extents, inside the volume and apart; None when a try fails."""
    centres: list[np.ndarray] = []
    for extent in extents:
        for _ in range(50):
            centre = rng.uniform(extent / 2 + 1, size - extent / 2 - 1, size=3)
            if all(
                np.linalg.norm(centre - other) > (extent + previous) / 2 + _GAP
                for other, previous in zip(centres, extents)
            ):
                centres.append(centre)
                break
        else:
            return None
    return centres


def make_solids(count: int, size: int = 32, seed: int = 0) -> SolidsBatch:
    """``count`` volumes of ``size``^3 voxels, deterministic for a seed (see the module docstring)."""
    rng = np.random.default_rng(seed)
    volumes = np.empty((count, 1, size, size, size), dtype=np.float32)
    labels = np.zeros((count, len(SOLIDS)), dtype=np.float32)
    masks = np.zeros((count, len(SOLIDS), size, size, size), dtype=bool)
    for index in range(count):
        while True:
            kinds = rng.choice(len(SOLIDS), size=int(rng.integers(1, 4)), replace=False)
            extents = [float(rng.uniform(*_EXTENT)) * size for _ in kinds]
            centres = _place(rng, size, extents)
            if centres is not None:
                break
        volume = _background(rng, size)
        for kind, extent, centre in zip(kinds, extents, centres):
            mask = solid_mask(SOLIDS[kind], size, centre, extent, _rotation(rng))
            volume[mask] += float(rng.uniform(1.6, 2.2))
            masks[index, kind] = mask
            labels[index, kind] = 1.0
        volumes[index, 0] = volume
    return SolidsBatch(volumes, labels, masks)
