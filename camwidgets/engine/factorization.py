"""Non-negative matrix factorization in torch, and Deep Feature Factorization built on it.

Both run on the tensors' device, for a whole batch of matrices at once (batched matmuls), with a
seeded, deterministic initialisation; their iterations report progress and can be cancelled
(:mod:`camwidgets.engine.progress`).
"""

from __future__ import annotations

from typing import Any

import torch

from .progress import Progress, ProgressOption

__all__ = ["non_negative_factorization", "reconstruction_error", "deep_feature_factorization", "CHECK_EVERY"]

CHECK_EVERY = 10  # iterations between convergence checks (as scikit-learn's NMF)


def reconstruction_error(V: torch.Tensor, W: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """Frobenius norm ``||V - W H||_F`` per matrix: shape ``V.shape[:-2]``."""
    return torch.linalg.matrix_norm(V - W @ H)


def _check_matrix(V: torch.Tensor, n_components: int, iterations: int) -> None:
    if not isinstance(V, torch.Tensor):
        raise TypeError(f"V must be a torch.Tensor of shape (M, N) or (B, M, N); got {type(V).__name__}")
    if V.ndim not in (2, 3) or V.shape[-1] == 0 or V.shape[-2] == 0:
        raise ValueError(f"V must have shape (M, N) or (B, M, N) with M, N > 0; got {tuple(V.shape)}")
    if not V.is_floating_point():
        raise TypeError(f"V must be floating point; got {V.dtype}. Convert with .float().")
    if not bool(torch.isfinite(V).all()):
        raise ValueError("V contains NaN or infinite values; replace them (for example with torch.nan_to_num) first")
    if bool((V < 0).any()):
        raise ValueError(
            "NMF needs a non-negative matrix; V has negative entries. Shift it first, for example "
            "V - V.amin(dim=-1, keepdim=True) (Deep Feature Factorization subtracts each channel's minimum)."
        )
    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
        raise ValueError(f"n_components must be a positive integer; got {n_components!r}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive integer; got {iterations!r}")


def _initial_factors(V: torch.Tensor, n_components: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``W0 = a |N(0,1)|`` (M, K), ``H0 = a |N(0,1)|`` (K, N) with ``a = sqrt(mean(V) / K)`` per
    matrix (scikit-learn's 'random' scale). The same seeded draw serves every matrix of a batch, so
    a matrix's result does not depend on the batch it is in."""
    rows, cols = V.shape[-2:]
    generator = torch.Generator(device=V.device).manual_seed(int(seed))
    H0 = torch.randn(n_components, cols, generator=generator, device=V.device, dtype=V.dtype).abs()
    W0 = torch.randn(rows, n_components, generator=generator, device=V.device, dtype=V.dtype).abs()
    scale = (V.mean(dim=(-2, -1)) / n_components).sqrt()[..., None, None]
    return scale * W0, scale * H0


def non_negative_factorization(
    V: torch.Tensor,
    n_components: int,
    *,
    iterations: int = 200,
    tolerance: float = 1e-4,
    seed: int = 0,
    progress: ProgressOption = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Factor ``V ≈ W H`` with ``W, H >= 0``, minimising ``||V - W H||_F^2`` (Lee & Seung's
    multiplicative updates, https://papers.nips.cc/paper/1861).

    Each iteration updates W, then H:

    ``W <- W * (V H^T) / (W H H^T)``,  ``H <- H * (W^T V) / (W^T W H)``

    (element-wise; denominators are clamped below by the dtype's machine epsilon). The updates never
    increase the objective and keep the factors non-negative.

    ``V``: (M, N) or a batch (B, M, N) of non-negative matrices, factored independently in one set
    of batched matmuls on V's device. Returns ``W`` (..., M, K) and ``H`` (..., K, N).
    Every ``CHECK_EVERY`` iterations the error ``||V - W H||_F`` is measured; a matrix whose error
    fell by less than ``tolerance`` times its initial error since the last check stops changing
    (scikit-learn's criterion); ``tolerance=0`` runs all ``iterations``. The initialisation is
    seeded (see ``_initial_factors``), so equal inputs and seeds give equal factors, and each
    matrix of a batch gets what it would get alone.
    ``progress``: False (default, silent), None (a tqdm bar) or a callback
    ``(done, total, description)`` returning False to cancel (raises ``Cancelled``).
    """
    _check_matrix(V, n_components, iterations)
    single = V.ndim == 2
    matrices = V.unsqueeze(0) if single else V
    W, H = _initial_factors(matrices, n_components, seed)
    epsilon = torch.finfo(V.dtype).eps
    active = torch.ones(matrices.shape[0], dtype=torch.bool, device=V.device)
    initial_error = reconstruction_error(matrices, W, H).clamp_min(torch.finfo(V.dtype).tiny)
    previous_error = initial_error
    with Progress(iterations, "NMF", progress) as bar:
        for step in range(1, iterations + 1):
            keep = active[:, None, None]
            W = torch.where(keep, W * (matrices @ H.mT) / (W @ (H @ H.mT)).clamp_min(epsilon), W)
            H = torch.where(keep, H * (W.mT @ matrices) / ((W.mT @ W) @ H).clamp_min(epsilon), H)
            bar.advance(1)
            if tolerance > 0 and step % CHECK_EVERY == 0 and step < iterations:
                error = reconstruction_error(matrices, W, H)
                active = active & ((previous_error - error) / initial_error >= tolerance)
                previous_error = error
                if not bool(active.any()):
                    bar.advance(iterations - step)
                    break
    return (W[0], H[0]) if single else (W, H)


def deep_feature_factorization(
    activations: torch.Tensor, n_components: int, **solver: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Deep Feature Factorization (Collins et al., https://arxiv.org/abs/1806.10206) of a layer's
    activations ``A`` (B, C, h, w), all images together.

    ``V[c, (b, i, j)] = A[b, c, i, j] - m_c`` with ``m_c = min A[:, c]`` (NaN read as 0) is factored
    as ``V ≈ W H`` (:func:`non_negative_factorization`). Returns the concepts ``W + m`` (C, K), one
    channel vector per concept as the reference defines them, and the raw concept maps ``H`` laid
    back on the images' grids (B, K, h, w). Everything stays on the activations' device.
    ``solver``: the keyword options of :func:`non_negative_factorization` (``iterations``,
    ``tolerance``, ``seed``, ``progress``).
    """
    if not isinstance(activations, torch.Tensor) or activations.ndim != 4:
        shape = tuple(activations.shape) if isinstance(activations, torch.Tensor) else type(activations).__name__
        raise ValueError(f"activations must be a (B, C, h, w) tensor; got {shape}")
    batch, channels, height, width = activations.shape
    flat = torch.nan_to_num(activations, nan=0.0).transpose(0, 1).reshape(channels, -1)
    offset = flat.amin(dim=1, keepdim=True)
    W, H = non_negative_factorization(flat - offset, n_components, **solver)
    maps = H.reshape(n_components, batch, height, width).transpose(0, 1)
    return W + offset, maps
