r"""Noisy linear imputation (ROAD, https://arxiv.org/abs/2202.00449), for a whole batch at once.

Every removed pixel takes the weighted mean of its in-image 8-neighbours, removed or not,

.. math::

    x_i = \frac{\sum_{j \in N(i)} w_{ij}\, x_j}{\sum_{j \in N(i)} w_{ij}},\qquad
    w_{ij} = 1/6 \text{ (side neighbours)},\quad 1/12 \text{ (diagonal neighbours)},

and then gets independent Gaussian noise ``noise * randn`` (per channel); kept pixels stay as they
are. With ``U`` the removed and ``K`` the kept pixels this is, per image and channel, the sparse system

.. math::

    (D - W_{UU})\, x_U = W_{UK}\, x_K,

``D`` being the sum of a pixel's in-image neighbour weights (1 inside, 2/3 on an edge, 5/12 in a
corner). It is a discrete Dirichlet problem: symmetric, and positive definite as soon as one pixel
is kept (every connected group of removed pixels then borders a kept one). With nothing kept it is
singular and the infill is 0, the dataset mean of a normalised image (what the reference gets too).

How it is solved: the reference assembles a scipy sparse matrix and factorises it, image by image,
on the host. Here the matrix is never formed, since applying it is one 3x3 stencil, and all images
and channels are solved together, in torch, on the tensors' device, by conjugate gradients, each
system with its own step sizes. Plain CG needs hundreds of iterations on large holes (the
condition number grows with the square of the hole's width), so it is preconditioned with one
geometric multigrid V-cycle: a Jacobi sweep before and after, residuals moved to a 2x coarser
grid by the transpose of bilinear interpolation, the same stencil there (a coarse pixel is removed
when its four children are), recursing down to 8 pixels. That keeps the count to about 10-30
iterations whatever the size. Everything runs in float32 (float64 made it five times slower on a
CPU), and CG stops when every system's residual is below ``tolerance`` (1e-5) times its
right-hand side, which puts the infill within about 2e-4 of a direct solve, far below the
imputation's own noise (0.01).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

__all__ = ["NoisyLinearImputer", "noisy_linear_imputation", "linear_imputation"]

#: (row offset, column offset, weight) of the neighbours a removed pixel averages.
NEIGHBOUR_WEIGHTS: tuple[tuple[int, int, float], ...] = (
    (1, 1, 1 / 12),
    (0, 1, 1 / 6),
    (-1, 1, 1 / 12),
    (1, -1, 1 / 12),
    (0, -1, 1 / 6),
    (-1, -1, 1 / 12),
    (1, 0, 1 / 6),
    (-1, 0, 1 / 6),
)

_COARSEST = 8  # grids no wider than this are the bottom of the V-cycle
_COARSEST_SWEEPS = 30


def _neighbour_sum(values: torch.Tensor) -> torch.Tensor:
    """``sum_j w_ij values_j`` over each pixel's in-image neighbours, for (N, H, W) ``values``: the weights
    (:data:`NEIGHBOUR_WEIGHTS`) are ``([1, 2, 1] x [1, 2, 1] - 4 delta) / 12``, so the sum is a separable
    [1, 2, 1] pass along the rows, one along the columns, less four times the centre, over 12 (zero beyond
    the edges)."""
    padded = F.pad(values, (1, 1, 1, 1))
    rows = padded[..., :-2] + padded[..., 2:]
    rows.add_(padded[..., 1:-1], alpha=2.0)
    total = rows[..., :-2, :] + rows[..., 2:, :]
    total.add_(rows[..., 1:-1, :], alpha=2.0)
    return total.sub_(values, alpha=4.0).mul_(1 / 12)


def _prolong_last_axis(coarse: torch.Tensor, size: int) -> torch.Tensor:
    """Cell-centred linear interpolation to twice the length (zero beyond the ends), cut to ``size``."""
    padded = F.pad(coarse, (1, 1))
    even = 0.75 * coarse + 0.25 * padded[..., :-2]
    odd = 0.75 * coarse + 0.25 * padded[..., 2:]
    return torch.stack([even, odd], dim=-1).flatten(-2)[..., :size]


def _restrict_last_axis(fine: torch.Tensor) -> torch.Tensor:
    """The transpose of :func:`_prolong_last_axis`."""
    if fine.shape[-1] % 2:
        fine = F.pad(fine, (0, 1))
    even, odd = fine[..., 0::2], fine[..., 1::2]
    coarse = 0.75 * (even + odd)
    coarse[..., :-1] += 0.25 * even[..., 1:]
    coarse[..., 1:] += 0.25 * odd[..., :-1]
    return coarse


def _prolong(coarse: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    rows = _prolong_last_axis(coarse, size[1]).transpose(-1, -2)
    return _prolong_last_axis(rows, size[0]).transpose(-1, -2)


def _restrict(fine: torch.Tensor) -> torch.Tensor:
    return _restrict_last_axis(_restrict_last_axis(fine).transpose(-1, -2)).transpose(-1, -2)


class _Grid:
    """One level of the multigrid hierarchy: which pixels are unknown, and the operator there."""

    def __init__(self, unknown: torch.Tensor) -> None:
        self.unknown = unknown
        self.diagonal = _neighbour_sum(torch.ones_like(unknown[:1]))
        self.inverse_diagonal = torch.where(
            self.diagonal > 0, unknown / self.diagonal, 0
        )  # a 1x1 image has no neighbours
        self.coarser: _Grid | None = None
        if min(unknown.shape[-2:]) > _COARSEST:
            # min-pool: a coarse pixel is unknown only when all its children are
            coarse_unknown = -F.max_pool2d(-unknown.unsqueeze(1), 2, ceil_mode=True).squeeze(1)
            self.coarser = _Grid(coarse_unknown)

    def apply(self, values: torch.Tensor) -> torch.Tensor:
        """``(D - W_UU) values`` on the unknown pixels (``values`` is zero on the known ones)."""
        return self.unknown * (self.diagonal * values - _neighbour_sum(values))

    def v_cycle(self, residual: torch.Tensor) -> torch.Tensor:
        """An approximate solution of ``apply(x) = residual``: a symmetric, linear preconditioner."""
        solution = residual * self.inverse_diagonal
        if self.coarser is None:
            for _ in range(_COARSEST_SWEEPS - 1):
                solution = solution + (residual - self.apply(solution)) * self.inverse_diagonal
            return solution
        coarse_residual = _restrict(residual - self.apply(solution)) * self.coarser.unknown
        correction = _prolong(self.coarser.v_cycle(coarse_residual), tuple(residual.shape[-2:]))
        solution = solution + correction * self.unknown
        return solution + (residual - self.apply(solution)) * self.inverse_diagonal


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(dim=(-2, -1), keepdim=True)


def _safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    return torch.where(denominator > 0, numerator / denominator.clamp_min(torch.finfo(denominator.dtype).tiny), 0)


def linear_imputation(
    images: torch.Tensor,
    removed: torch.Tensor,
    *,
    tolerance: float = 1e-5,
    max_iterations: int = 500,
) -> torch.Tensor:
    """The noise-free infill: ``images`` (N, H, W) with the pixels where ``removed`` (N, H, W, bool)
    is set replaced by the solution of ``(D - W_UU) x_U = W_UK x_K``, in the images' dtype."""
    if images.ndim != 3 or images.shape != removed.shape:
        raise ValueError(
            f"images and removed must both be (N, H, W); got {tuple(images.shape)} and {tuple(removed.shape)}"
        )
    values = images.to(torch.float32)
    unknown = removed.to(torch.float32)
    fine = _Grid(unknown)  # its operator is the system's; its V-cycle the preconditioner
    apply, precondition = fine.apply, fine.v_cycle
    rhs = unknown * _neighbour_sum(values * (1 - unknown))
    limit = tolerance * _dot(rhs, rhs).sqrt()
    solution = torch.zeros_like(rhs)
    residual = rhs
    preconditioned = precondition(residual)
    direction = preconditioned
    rz = _dot(residual, preconditioned)
    for iteration in range(max_iterations + 1):
        if bool((_dot(residual, residual).sqrt() <= limit).all()):
            break
        if iteration == max_iterations:
            warnings.warn(
                f"the linear imputation did not reach a relative residual of {tolerance:g} in {max_iterations} "
                "iterations; the infill is approximate (raise max_iterations or tolerance)",
                RuntimeWarning,
                stacklevel=2,
            )
            break
        product = apply(direction)
        step = _safe_divide(rz, _dot(direction, product))
        solution = solution + step * direction
        residual = residual - step * product
        next_preconditioned = precondition(residual)
        # Polak-Ribiere form: robust to the float32 preconditioner's rounding
        momentum = _safe_divide(_dot(residual, next_preconditioned - preconditioned), rz)
        preconditioned = next_preconditioned
        rz = _dot(residual, preconditioned)
        direction = preconditioned + momentum * direction
    return torch.where(removed, solution, values).to(images.dtype)


def noisy_linear_imputation(
    images: torch.Tensor,
    keep: torch.Tensor,
    *,
    noise: float = 0.01,
    generator: torch.Generator | None = None,
    tolerance: float = 1e-5,
) -> torch.Tensor:
    """Images (B, C, H, W) with the pixels where ``keep`` (B, H, W) is 0 imputed: the infill of
    :func:`linear_imputation` plus ``noise * randn`` on every imputed value (each channel)."""
    if images.ndim != 4:
        raise ValueError(f"images must be a (B, C, H, W) batch; got shape {tuple(images.shape)}")
    batch, channels, height, width = images.shape
    if tuple(keep.shape) != (batch, height, width):
        raise ValueError(
            f"keep must hold one (H, W) mask per image, shape {(batch, height, width)}; got {tuple(keep.shape)}"
        )
    if noise and generator is not None and generator.device.type != images.device.type:
        raise ValueError(
            f"the noise generator is on {generator.device} but the images are on {images.device}; "
            f"create it there: torch.Generator(device={str(images.device)!r}).manual_seed(seed)"
        )
    removed = (keep.to(images.device) < 0.5).unsqueeze(1).expand(batch, channels, height, width)
    infill = linear_imputation(
        images.reshape(batch * channels, height, width),
        removed.reshape(batch * channels, height, width),
        tolerance=tolerance,
    ).view_as(images)
    if noise:
        jitter = torch.randn(images.shape, generator=generator, device=images.device, dtype=images.dtype)
        infill = torch.where(removed, infill + noise * jitter, infill)
    return infill


class NoisyLinearImputer:
    """The reference's imputer, batched: ``imputer(images, keep)``, images (B, C, H, W) or one
    (C, H, W) image, ``keep`` (B, H, W) or (H, W): 1 where a pixel stays, 0 where it is imputed."""

    def __init__(
        self, noise: float = 0.01, *, generator: torch.Generator | None = None, tolerance: float = 1e-5
    ) -> None:
        if not noise >= 0:
            raise ValueError(
                f"noise is the standard deviation of the Gaussian noise added to imputed pixels and must be >= 0; got {noise}"
            )
        self.noise = float(noise)
        self.generator = generator
        self.tolerance = float(tolerance)

    def __call__(self, images: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        single = images.ndim == 3
        if single:
            images, keep = images.unsqueeze(0), keep.unsqueeze(0)
        result = noisy_linear_imputation(
            images, keep, noise=self.noise, generator=self.generator, tolerance=self.tolerance
        )
        return result[0] if single else result

    def __repr__(self) -> str:
        return f"NoisyLinearImputer(noise={self.noise})"
