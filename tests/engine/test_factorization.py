"""NMF known answers, determinism, batching, progress and cancellation; the DFF class's outputs,
labels, and a model left as it was after success, errors and cancellation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import camwidgets as cw
from camwidgets.engine.factorization import deep_feature_factorization, non_negative_factorization, reconstruction_error
from camwidgets.render.factorization import create_labels, create_labels_legend
from tests.conftest import Small, assert_unchanged, mixed_state, seeded, snapshot


def low_rank(rank: int = 3, rows: int = 20, cols: int = 30, seed: int = 0, batch: int | None = None) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    lead = () if batch is None else (batch,)
    W = torch.rand(*lead, rows, rank, generator=generator)
    H = torch.rand(*lead, rank, cols, generator=generator)
    return W @ H


def relative_error(V: torch.Tensor, W: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    return reconstruction_error(V, W, H) / torch.linalg.matrix_norm(V)


def test_exact_low_rank_matrix_is_recovered():
    V = low_rank().double()
    W, H = non_negative_factorization(V, 3, iterations=3000, tolerance=0)
    assert W.shape == (20, 3) and H.shape == (3, 30)
    assert (W >= 0).all() and (H >= 0).all()
    assert relative_error(V, W, H) < 2e-3
    assert (
        relative_error(V, *non_negative_factorization(V, 3, iterations=10, tolerance=0)) > 2e-3
    )  # iterations do the work


def test_error_never_increases():
    V = low_rank(rank=5)
    errors = [
        reconstruction_error(V, *non_negative_factorization(V, 3, iterations=n, tolerance=0)).item()
        for n in (1, 5, 20, 80)
    ]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.5 * errors[0]


def test_seeded_and_deterministic():
    V = low_rank(rank=4)
    first, again = non_negative_factorization(V, 3, seed=5), non_negative_factorization(V, 3, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    other = non_negative_factorization(V, 3, seed=6)
    assert not torch.equal(first[0], other[0])


def test_batch_equals_per_matrix():
    V = low_rank(batch=3, seed=1)
    V[1] *= 10  # different scales and convergence speeds in one batch
    W, H = non_negative_factorization(V, 2)
    assert W.shape == (3, 20, 2) and H.shape == (3, 2, 30)
    for index in range(3):
        w, h = non_negative_factorization(V[index], 2)
        torch.testing.assert_close(W[index], w, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(H[index], h, rtol=1e-4, atol=1e-6)


def test_tolerance_stops_early_and_progress_reports_every_step():
    calls: list[tuple[int, int, str]] = []
    V = low_rank(rank=2)
    non_negative_factorization(
        V, 2, iterations=500, progress=lambda done, total, what: calls.append((done, total, what))
    )
    assert calls[-1] == (500, 500, "NMF")  # finishes its count after converging early
    assert len(calls) < 500 and [c[0] for c in calls[:3]] == [1, 2, 3]


def test_cancelled_by_the_callback():
    seen = []

    def stop_at_five(done, total, what):
        seen.append(done)
        return done < 5

    with pytest.raises(cw.Cancelled, match="5 of 50"):
        non_negative_factorization(low_rank(), 2, iterations=50, tolerance=0, progress=stop_at_five)
    assert seen[-1] == 5


@pytest.mark.parametrize(
    "V, components, message",
    [
        (-low_rank(), 2, "non-negative"),
        (torch.full((3, 3), float("nan")), 2, "NaN"),
        (low_rank(), 0, "n_components"),
        (torch.ones(3), 1, r"\(M, N\)"),
        (torch.ones(3, 3, dtype=torch.int64), 1, "floating point"),
    ],
)
def test_bad_matrices_are_explained(V, components, message):
    with pytest.raises((ValueError, TypeError), match=message):
        non_negative_factorization(V, components)


def test_dff_of_known_parts():
    """Activations made of two channel patterns, one on each half of the image: two concepts, one
    per half, each with its pattern's channels."""
    generator = torch.Generator().manual_seed(0)
    patterns = torch.rand(2, 6, generator=generator) * torch.tensor([[1.0] * 3 + [0.1] * 3, [0.1] * 3 + [1.0] * 3])
    halves = torch.zeros(2, 2, 6, 6)
    halves[:, 0, :, :3] = 1.0
    halves[:, 1, :, 3:] = 1.0
    halves += 0.05 * torch.rand(2, 2, 6, 6, generator=generator)
    activations = torch.einsum("kc,bkhw->bchw", patterns, halves)
    concepts, maps = deep_feature_factorization(activations, 2, iterations=500)
    assert concepts.shape == (6, 2) and maps.shape == (2, 2, 6, 6)
    left = int(maps[0, :, 0, 0].argmax())
    right = 1 - left
    assert (maps[:, left, :, :3] > maps[:, right, :, :3]).all() and (maps[:, right, :, 3:] > maps[:, left, :, 3:]).all()
    assert (
        concepts[:3, left].mean() > 3 * concepts[3:, left].mean()
        and concepts[3:, right].mean() > 3 * concepts[:3, right].mean()
    )


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))


def test_dff_class_outputs(images):
    model = seeded(Small)
    concepts, explanations, outputs = cw.DeepFeatureFactorization(
        model, "head_conv", computation_on_concepts=model.fc, progress=False
    )(images, 3)
    assert concepts.shape == (8, 3) and concepts.dtype == np.float32
    assert explanations.shape == (2, 3, 16, 16) and explanations.dtype == np.float32
    assert explanations.min() >= 0 and np.allclose(explanations.max(axis=(2, 3)), 1, atol=1e-3)
    expected = (torch.from_numpy(concepts).T @ model.fc.weight.T + model.fc.bias).detach().numpy()
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-5)
    assert len(cw.DeepFeatureFactorization(model, model.head_conv, progress=False)(images, 3)) == 2  # as the reference
    tensors = cw.DeepFeatureFactorization(model, "head_conv", progress=False, as_tensor=True)(images, 3)
    assert isinstance(tensors[1], torch.Tensor) and np.allclose(tensors[1].numpy(), explanations, atol=1e-6)


def test_dff_leaves_the_model_as_found_after_success_error_and_cancel(images):
    model = seeded(Small)
    mixed_state(model)
    before = snapshot(model)
    cw.DeepFeatureFactorization(model, "head_conv", computation_on_concepts=model.fc, progress=False)(images, 2)
    assert_unchanged(model, before)
    with pytest.raises(cw.Cancelled):
        cw.DeepFeatureFactorization(model, "head_conv", progress=lambda done, total, what: False)(images, 2)
    assert_unchanged(model, before)
    with pytest.raises(ValueError, match="no module named"):
        cw.DeepFeatureFactorization(model, "head_cnv")
    with pytest.raises(ValueError, match="n_components"):
        cw.DeepFeatureFactorization(model, "head_conv", progress=False)(images, 0)
    with pytest.raises(TypeError, match="one target_layer"):
        cw.DeepFeatureFactorization(model, [model.head_conv])
    assert_unchanged(model, before)


def test_labels_from_a_list_a_dict_or_indices():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4]])
    names = ["tabby, tabby cat", "tiger cat", "Persian cat, a, b, c"]
    assert create_labels(scores, 2, names) == [
        "tiger cat:0.70\nPersian cat, a, b:0.20",
        "tabby, tabby cat:0.50\nPersian cat, a, b:0.40",
    ]
    assert create_labels(scores, 1, {0: "zero", 1: "one"}) == ["one:0.70", "zero:0.50"]
    assert create_labels(scores, 1) == ["1:0.70", "0:0.50"]
    assert create_labels_legend(scores, names, top_k=1) == create_labels(scores, 1, names)
    with pytest.raises(ValueError, match="top_k"):
        create_labels(scores, 0, names)


def test_run_dff_on_image(images):
    model = seeded(Small)
    picture = np.uint8(np.random.default_rng(0).integers(0, 256, (16, 16, 3)))
    result = cw.run_dff_on_image(model, "head_conv", model.fc, picture, images[0], n_components=2, labels=list("abcde"))
    assert result.shape == (16, 48, 3) and result.dtype == np.uint8
    np.testing.assert_array_equal(result[:, :16], picture)
    with pytest.raises(ValueError, match="img_tensor"):
        cw.run_dff_on_image(model, "head_conv", model.fc, picture[:8], images[0])
