r"""Does the map point at the object? Metrics against ground-truth masks (or boxes).

Every function takes (B, H, W) maps and (B, H, W) boolean masks (or volumes' (B, D, H, W); a
signal's (B, L) as (B, 1, L)), numpy arrays or tensors, computes
in torch on the maps' device for the whole batch, and returns numpy (B,). Boxes become masks with
``boxes_to_masks``. The maps are used as given (the CAMs of this package are already scaled to
[0, 1]); the mass-based scores need non-negative maps.

* ``pointing_game``: the map's maximum lies within ``tolerance`` pixels of the mask
  (Zhang et al., https://arxiv.org/abs/1608.00507).
* ``energy_pointing_game``: the share of the map's mass inside the mask (Score-CAM,
  https://arxiv.org/abs/1910.01279); ``relevance_mass_accuracy`` (Arras et al.,
  https://arxiv.org/abs/2003.07258) is the same ratio under another name.
* ``relevance_rank_accuracy``: the share of the map's K highest pixels inside the mask, K the mask's
  size (Arras et al.).
* ``smooth_random_maps``: the yardstick a real map must beat: uniform noise on a coarse grid,
  upsampled like a CAM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .confidence import as_tensor, map_values

__all__ = [
    "boxes_to_masks",
    "pointing_game",
    "energy_pointing_game",
    "relevance_mass_accuracy",
    "relevance_rank_accuracy",
    "smooth_random_maps",
]

#: Elements of the (points, rows) distance table the pointing game builds per step.
_DISTANCE_CHUNK = 1 << 22


def smooth_random_maps(count: int, size: int | Sequence[int], cells: int, seed: int = 0) -> np.ndarray:
    """(count, H, W) float32 random maps: uniform noise on a ``cells`` x ``cells`` grid, upsampled
    bilinearly to ``size`` (an int for square maps, or (H, W)), as a CAM of that grid is; for a
    volume's (D, H, W) ``size``, (count, D, H, W) maps from a ``cells``^3 grid, upsampled trilinearly."""
    import torch.nn.functional as F

    shape = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
    if len(shape) not in (2, 3):
        raise ValueError(f"size must be a side, (H, W) or (D, H, W); got {size!r}")
    grid = torch.rand(int(count), 1, *[int(cells)] * len(shape), generator=torch.Generator().manual_seed(int(seed)))
    mode = "bilinear" if len(shape) == 2 else "trilinear"
    return F.interpolate(grid, size=shape, mode=mode, align_corners=False)[:, 0].numpy()


# --- inputs -------------------------------------------------------------------------------------


def _as_maps(cams: Any) -> torch.Tensor:
    """The maps as a floating-point (B, H, W) or (B, D, H, W) tensor, checked."""
    maps = as_tensor(cams, "cams")
    if maps.ndim not in (3, 4):
        hint = (
            " For a single map add the batch axis: cams[None]; for signals (B, L) use cams[:, None]."
            if maps.ndim == 2
            else ""
        )
        raise ValueError(
            f"cams must have shape (B, H, W), one map per image, or (B, D, H, W) for volumes; got {tuple(maps.shape)}.{hint}"
        )
    return map_values(maps)


def _as_masks(masks: Any, maps: torch.Tensor) -> torch.Tensor:
    """The masks as a bool (B, H, W) tensor on the maps' device, checked against the maps: each
    mask must match its map's shape and hold at least one pixel."""
    mask = as_tensor(masks, "masks")
    if mask.ndim == 2 and mask.shape[-1] == 4 and maps.shape[-1] != 4:
        raise ValueError(
            f"masks has shape {tuple(mask.shape)}, which looks like boxes; convert them with boxes_to_masks(boxes, (H, W))"
        )
    if tuple(mask.shape) != tuple(maps.shape):
        raise ValueError(
            f"masks has shape {tuple(mask.shape)}, but the maps have shape {tuple(maps.shape)}; pass one (H, W) mask per map"
        )
    if mask.dtype != torch.bool:
        if mask.is_complex() or not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("masks must be boolean (or hold only 0 and 1): True marks the object's pixels")
        mask = mask != 0
    empty = (~mask.flatten(1).any(dim=1)).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"the masks of images {empty} are empty; every image needs at least one object pixel")
    return mask.to(maps.device)


def _check_non_negative(maps: torch.Tensor, metric: str) -> None:
    if bool((maps < 0).any()):
        raise ValueError(
            f"{metric} measures a share of the map's mass and needs non-negative maps; these have negative values. "
            "Use the positive part (cams.clip(min=0)) or maps scaled to [0, 1]."
        )


def boxes_to_masks(boxes: Any, size: Sequence[int]) -> np.ndarray | torch.Tensor:
    """Boolean masks (B, H, W) from boxes ``(x1, y1, x2, y2)`` in pixels, ``size = (H, W)``.

    ``boxes``: (B, 4), one box per image, or (B, N, 4), the union of N boxes per image (a box with
    ``x2 <= x1`` or ``y2 <= y1`` adds nothing, so rows can be padded). A pixel ``(row i, column j)``
    covers ``[j, j+1) x [i, i+1)`` and is inside when its centre is: ``x1 <= j + 0.5 < x2`` and
    ``y1 <= i + 0.5 < y2``; boxes are clipped to the image. Returns a tensor for a tensor, else numpy.
    """
    as_numpy = not isinstance(boxes, torch.Tensor)
    corners = (
        boxes.detach() if isinstance(boxes, torch.Tensor) else torch.as_tensor(np.asarray(boxes, dtype=np.float64))
    )
    if corners.ndim == 2:
        corners = corners.unsqueeze(1)
    if corners.ndim != 3 or corners.shape[-1] != 4 or corners.shape[0] == 0:
        raise ValueError(
            f"boxes must have shape (B, 4) or (B, N, 4), as (x1, y1, x2, y2) per box; got {tuple(corners.shape)}"
        )
    if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in size):
        raise ValueError(f"size must be the image's (H, W) as two positive integers; got {size!r}")
    corners = corners.to(torch.float64)
    height, width = int(size[0]), int(size[1])
    rows = torch.arange(height, device=corners.device, dtype=torch.float64) + 0.5
    columns = torch.arange(width, device=corners.device, dtype=torch.float64) + 0.5
    x1, y1, x2, y2 = (corners[..., i, None] for i in range(4))
    inside_rows = (y1 <= rows) & (rows < y2)  # (B, N, H)
    inside_columns = (x1 <= columns) & (columns < x2)  # (B, N, W)
    masks = (inside_rows.unsqueeze(-1) & inside_columns.unsqueeze(-2)).any(dim=1)
    return masks.cpu().numpy() if as_numpy else masks


# --- pointing game ------------------------------------------------------------------------------


def _row_distances(mask: torch.Tensor) -> torch.Tensor:
    """Squared distance from each pixel to the nearest mask pixel in the same row, (B, H, W)
    (infinite in rows without one), from running maxima of the mask's column indices."""
    width = mask.shape[-1]
    columns = torch.arange(width, device=mask.device, dtype=torch.float32).expand_as(mask)
    far = float(2 * width + 1)
    left = torch.where(mask, columns, -far).cummax(dim=-1).values
    right = -torch.where(mask, -columns, -far).flip(-1).cummax(dim=-1).values.flip(-1)
    nearest = torch.minimum(columns - left, right - columns)
    return torch.where(nearest > width, torch.inf, nearest**2)


def _maxima_distances(maps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per image, the squared Euclidean distance from its nearest maximum to the mask, (B,):
    ``min over maxima (i, j) of min_k (i - k)^2 + g(k, j)``, with ``g`` the row distances
    (volumes: :func:`_volume_maxima_distances`)."""
    if maps.ndim == 4:
        return _volume_maxima_distances(maps, mask)
    batch, height = maps.shape[0], maps.shape[1]
    row_distances = _row_distances(mask)
    peaks = maps == maps.flatten(1).amax(dim=1).view(-1, 1, 1)
    image, row, column = peaks.nonzero(as_tuple=True)
    rows = torch.arange(height, device=maps.device, dtype=torch.float32)
    best = torch.full((batch,), torch.inf, device=maps.device)
    step = max(1, _DISTANCE_CHUNK // height)
    for start in range(0, image.numel(), step):
        b, i, j = image[start : start + step], row[start : start + step], column[start : start + step]
        distances = ((i.to(torch.float32)[:, None] - rows) ** 2 + row_distances[b, :, j]).amin(dim=1)
        best = best.scatter_reduce(0, b, distances, reduce="amin")
    return best


def _volume_maxima_distances(maps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """:func:`_maxima_distances` for (B, D, H, W) volumes: per volume, the smallest squared distance
    between its maxima and its mask's voxels (in chunks of the mask's voxels)."""
    best = torch.full((maps.shape[0],), torch.inf, device=maps.device)
    for index, (volume, voxels) in enumerate(zip(maps, mask)):
        peaks = (volume == volume.amax()).nonzero().to(torch.float32)
        inside = voxels.nonzero().to(torch.float32)
        step = max(1, _DISTANCE_CHUNK // max(len(peaks), 1))
        for start in range(0, len(inside), step):
            chunk = torch.cdist(peaks, inside[start : start + step]).amin() ** 2
            best[index] = torch.minimum(best[index], chunk.round())  # integer offsets: exact squares
    return best


def pointing_game(cams: Any, masks: Any, tolerance: float = 15) -> np.ndarray:
    """Pointing game (Zhang et al., https://arxiv.org/abs/1608.00507): per image, a hit when the
    map's maximum lies within ``tolerance`` pixels (Euclidean, between pixel centres; voxels for a
    volume, the 3-D pointing game) of a mask pixel; ``tolerance=0`` asks for the maximum inside the mask. With several equal maxima, any of
    them may hit. Returns numpy bool (B,); the hit rate is its mean."""
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, (int, float, np.integer, np.floating))
        or not tolerance >= 0
    ):
        raise ValueError(f"tolerance must be a non-negative number of pixels, for example 15; got {tolerance!r}")
    maps = _as_maps(cams)
    mask = _as_masks(masks, maps)
    return (_maxima_distances(maps, mask) <= float(tolerance) ** 2).cpu().numpy()


def energy_pointing_game(cams: Any, masks: Any) -> np.ndarray:
    """Energy-based pointing game (Score-CAM, https://arxiv.org/abs/1910.01279): per image, the share
    of the map's mass inside the mask, ``sum(cam * mask) / sum(cam)``, numpy float32 (B,) in [0, 1].

    The map must be non-negative. This is also Arras et al.'s relevance mass accuracy
    (https://arxiv.org/abs/2003.07258), ``R_within / R_total``: with non-negative maps the two are
    the same number, so ``relevance_mass_accuracy`` is this function. A map of zeros has no mass
    to share out: its score is NaN (``np.nanmean`` skips it).
    """
    maps = _as_maps(cams)
    mask = _as_masks(masks, maps)
    _check_non_negative(maps, "energy_pointing_game (relevance mass accuracy)")
    flat = maps.flatten(1).to(torch.float32)
    inside = (flat * mask.flatten(1)).sum(dim=1)
    total = flat.sum(dim=1)
    return torch.where(total > 0, inside / total, torch.nan).cpu().numpy()


relevance_mass_accuracy = energy_pointing_game


def relevance_rank_accuracy(cams: Any, masks: Any) -> np.ndarray:
    """Relevance rank accuracy (Arras et al., https://arxiv.org/abs/2003.07258): per image, with
    ``K`` the mask's size, the share of the map's ``K`` highest pixels that lie in the mask,
    numpy float32 (B,) in [0, 1].

    Pixels tied with the K-th highest value share the places left in proportion (the expected
    score when ties are broken at random), so a constant map scores exactly the mask's area
    fraction, whatever the mask's position.
    """
    maps = _as_maps(cams)
    mask = _as_masks(masks, maps)
    flat, inside = maps.flatten(1), mask.flatten(1)
    size = inside.sum(dim=1)
    threshold = flat.sort(dim=1, descending=True).values.gather(1, (size - 1).view(-1, 1))
    above, tied = flat > threshold, flat == threshold
    places_left = (size - above.sum(dim=1)).to(torch.float32)
    tied_inside = (tied & inside).sum(dim=1) / tied.sum(dim=1)
    hits = (above & inside).sum(dim=1) + places_left * tied_inside
    return (hits / size).to(torch.float32).cpu().numpy()
