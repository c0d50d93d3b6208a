r"""Gradient-free methods that read the activations of one forward pass."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..smoothing import positive_peak
from .combine import spatial_dims, summed_channels, weighted_channels
from .registry import MethodSpec
from .seeding import seeded_generator

KERNELS = ("linear", "poly", "polynomial", "rbf", "sigmoid", "cosine", "laplacian")


def eigencam(
    activations: torch.Tensor, gradients: torch.Tensor | None = None, eigen_smooth: bool = False
) -> torch.Tensor:
    r"""Eigen-CAM: the first principal component of the activations, ``A v_1`` with ``v_1`` the top
    right singular vector of the centred (positions x channels) matrix (https://arxiv.org/abs/2008.00299).
    Class-agnostic: the target is not used."""
    return summed_channels(activations, True)


def fem(
    activations: torch.Tensor, gradients: torch.Tensor | None = None, eigen_smooth: bool = False, k: float = 2
) -> torch.Tensor:
    r"""FEM (Feature Explanation Method, https://hal.science/hal-02963298): ``sum_c w_c A_c`` with
    ``w_c`` the fraction of positions where ``A_c > mean(A_c) + k std(A_c)`` (population std, the
    k-sigma rule). Class-agnostic; like the reference, ``eigen_smooth`` changes nothing."""
    dims = spatial_dims(activations)
    mean = activations.mean(dim=dims, keepdim=True)
    std = activations.std(dim=dims, correction=0, keepdim=True)
    weights = (activations > mean + k * std).to(activations.dtype).mean(dim=dims)
    return weighted_channels(weights, activations, False)


def _kernel_matrix(points: torch.Tensor, kernel: str, gamma: float, degree: float, coef0: float) -> torch.Tensor:
    """(B, N, N) kernel between the rows of (B, N, C) ``points``, with scikit-learn's definitions."""
    if kernel == "cosine":
        unit = F.normalize(points, dim=-1)
        return unit @ unit.transpose(1, 2)
    if kernel in ("rbf", "laplacian"):
        distance = torch.cdist(points, points, p=2 if kernel == "rbf" else 1)
        return torch.exp(-gamma * (distance.square() if kernel == "rbf" else distance))
    dot = points @ points.transpose(1, 2)
    if kernel == "linear":
        return dot
    if kernel == "sigmoid":
        return torch.tanh(gamma * dot + coef0)
    return (gamma * dot + coef0) ** degree


def kpca_projection(
    activations: torch.Tensor,
    gradients: torch.Tensor | None = None,
    eigen_smooth: bool = False,
    kernel: str = "sigmoid",
    gamma: float | None = None,
    degree: float = 3,
    coef0: float = 1,
) -> torch.Tensor:
    r"""KPCA-CAM (https://arxiv.org/abs/2410.00267): the first kernel principal component of the
    positions. With ``X`` the (positions x channels) activations centred over positions and ``K`` the
    kernel matrix ``k(x_i, x_j)`` centred in feature space (``K - row means - column means + mean``),
    the map is ``sqrt(lambda_1) u_1`` for the top eigenpair of ``K``, signed so its largest-magnitude
    value is positive (scikit-learn's KernelPCA ``fit_transform`` with one component, in float64).
    ``gamma`` defaults to 1 / channels. Class-agnostic."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}; got {kernel!r}")
    batch, channels = activations.shape[:2]
    points = torch.nan_to_num(activations.detach().double()).reshape(batch, channels, -1).transpose(1, 2)
    points = points - points.mean(dim=1, keepdim=True)
    matrix = _kernel_matrix(points, kernel, 1.0 / channels if gamma is None else float(gamma), degree, coef0)
    matrix = (
        matrix
        - matrix.mean(dim=1, keepdim=True)
        - matrix.mean(dim=2, keepdim=True)
        + matrix.mean(dim=(1, 2), keepdim=True)
    )
    value, vector = _top_eigenpairs(matrix)
    projection = positive_peak(vector) * value[:, None].clamp(min=0).sqrt()
    return projection.reshape(batch, *activations.shape[2:]).to(activations.dtype)


DENSE_EIGEN_LIMIT = 1024  # positions up to which the full eigendecomposition is cheaper than an iterative one


def _top_eigenpairs(matrices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The largest eigenvalue (B,) and its eigenvector (B, n) of each symmetric (n, n) matrix: from
    ``eigh`` up to DENSE_EIGEN_LIMIT, else by LOBPCG for that one pair (a volume's 5760 positions:
    1.6 s instead of 23 s, the same pair within 1e-12)."""
    if matrices.shape[-1] <= DENSE_EIGEN_LIMIT:
        values, vectors = torch.linalg.eigh(matrices)
        return values[:, -1], vectors[:, :, -1]
    pairs = [torch.lobpcg(matrix, k=1, largest=True, tol=1e-12, niter=500) for matrix in matrices]
    return torch.stack([value[0] for value, _ in pairs]), torch.stack([vector[:, 0] for _, vector in pairs])


def random_weights(
    activations: torch.Tensor,
    gradients: torch.Tensor | None = None,
    eigen_smooth: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""RandomCAM, a baseline: ``sum_c w_c A_c`` with channel weights ``w_c ~ U(-1, 1)`` drawn anew
    for every image and layer (from torch's generator, or from ``seed`` for repeatable maps)."""
    weights = (
        torch.rand(activations.shape[:2], generator=generator, device=activations.device, dtype=activations.dtype) * 2
        - 1
    )
    return weighted_channels(weights, activations, eigen_smooth)


def _random_keywords(options: dict, batch: torch.Tensor) -> dict:
    """RandomCAM's ``seed`` as a generator on the batch's device (one for all layers of a call)."""
    return {"generator": seeded_generator(options["seed"], batch.device)}


def _gradient_free(
    name: str, class_name: str, compute: Any, summary: str, paper: str = "", **fields: Any
) -> MethodSpec:
    return MethodSpec(
        name=name,
        class_name=class_name,
        family="gradient-free",
        needs_gradients=False,
        cost=1.0,
        compute=compute,
        summary=summary,
        paper=paper,
        **fields,
    )


SPECS = (
    _gradient_free("eigencam", "EigenCAM", eigencam, "first principal component of the activations", "https://arxiv.org/abs/2008.00299"),
    _gradient_free("fem", "FEM", fem, "channels weighted by how often they exceed mean + k std", "https://hal.science/hal-02963298", options={"k": 2}),
    _gradient_free(
        "kpca_cam", "KPCA_CAM", kpca_projection, "first kernel principal component of the activations", "https://arxiv.org/abs/2410.00267",
        options={"kernel": "sigmoid", "gamma": None},
    ),
    _gradient_free(
        "randomcam", "RandomCAM", random_weights, "random channel weights in [-1, 1] (a baseline)",
        options={"seed": None}, keyword_only=("seed",), prepare=_random_keywords,
    ),
)  # fmt: skip
