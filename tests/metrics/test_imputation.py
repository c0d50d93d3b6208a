"""Noisy linear imputation: known answers, agreement with the reference's sparse direct solve,
and the noise."""

from __future__ import annotations

import pytest
import torch

from camwidgets.metrics import NoisyLinearImputer, linear_imputation, noisy_linear_imputation

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def ramp(channels: int, height: int, width: int) -> torch.Tensor:
    rows = torch.arange(height, dtype=torch.float32).view(height, 1)
    columns = torch.arange(width, dtype=torch.float32).view(1, width)
    slopes = torch.tensor([[0.03, -0.02], [-0.01, 0.04], [0.0, 0.0]])[:channels]
    return torch.stack([a * rows + b * columns + index for index, (a, b) in enumerate(slopes.tolist())])


@pytest.mark.parametrize("size, hole", [(16, (3, 12, 4, 13)), (128, (2, 126, 2, 126))])
def test_a_linear_ramp_is_filled_exactly(size, hole):
    """A linear function equals the weighted mean of its neighbours (symmetric weights), so a hole
    away from the image border is filled with the ramp itself; the large hole tests the solver."""
    image = ramp(3, size, size)
    keep = torch.ones(size, size)
    top, bottom, left, right = hole
    keep[top:bottom, left:right] = 0
    filled = NoisyLinearImputer(noise=0, tolerance=1e-6)(image.clone(), keep)
    torch.testing.assert_close(filled, image, rtol=0, atol=5e-4)  # float32 on a 124 x 124 hole
    coarse = NoisyLinearImputer(noise=0)(image.clone(), keep)  # the default tolerance: far below the noise
    torch.testing.assert_close(coarse, image, rtol=0, atol=2e-3)


@pytest.mark.parity
@pytest.mark.parametrize("density", [0.05, 0.5, 0.95])
def test_matches_the_reference_direct_solve(reference_metrics, density):
    generator = torch.Generator().manual_seed(7)
    images = torch.randn(3, 3, 40, 33, generator=generator)
    keep = (torch.rand(3, 40, 33, generator=generator) < density).float()
    keep[1, 10:30, 5:25] = 0  # a large hole too
    reference = reference_metrics["road"].NoisyLinearImputer(noise=0)
    expected = torch.stack([reference(images[i], keep[i]) for i in range(3)])
    ours = noisy_linear_imputation(images, keep, noise=0, tolerance=1e-6)
    assert (ours - expected).abs().max() <= 1e-4
    assert (noisy_linear_imputation(images, keep, noise=0) - expected).abs().max() <= 2e-3


def test_nothing_removed_changes_nothing_and_everything_removed_gives_zero():
    images = torch.randn(2, 3, 9, 11, generator=torch.Generator().manual_seed(0))
    assert torch.equal(noisy_linear_imputation(images, torch.ones(2, 9, 11), noise=0.5), images)
    assert torch.count_nonzero(noisy_linear_imputation(images, torch.zeros(2, 9, 11), noise=0)) == 0


def test_noise_is_added_to_imputed_pixels_only():
    images = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    keep = (torch.rand(2, 48, 48, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    clean = noisy_linear_imputation(images, keep, noise=0)
    noisy = noisy_linear_imputation(images, keep, noise=0.5, generator=torch.Generator().manual_seed(2))
    again = noisy_linear_imputation(images, keep, noise=0.5, generator=torch.Generator().manual_seed(2))
    assert torch.equal(noisy, again)
    removed = (keep == 0).unsqueeze(1).expand_as(images)
    assert torch.equal(noisy[~removed], images[~removed])
    jitter = (noisy - clean)[removed]
    assert abs(float(jitter.mean())) < 0.03 and abs(float(jitter.std()) - 0.5) < 0.03


def test_single_image_form_and_float64():
    image = torch.randn(3, 10, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    keep = torch.ones(10, 10)
    keep[3:6, 2:8] = 0
    single = NoisyLinearImputer(noise=0)(image, keep)
    assert single.shape == image.shape and single.dtype == torch.float64
    torch.testing.assert_close(single, NoisyLinearImputer(noise=0)(image[None], keep[None])[0])
    torch.testing.assert_close(linear_imputation(image, (keep == 0).expand(3, 10, 10)), single)


def test_bad_shapes_and_noise_are_refused():
    with pytest.raises(ValueError, match="one \\(H, W\\) mask per image"):
        noisy_linear_imputation(torch.zeros(2, 3, 8, 8), torch.ones(2, 8, 7))
    with pytest.raises(ValueError, match="\\(B, C, H, W\\)"):
        noisy_linear_imputation(torch.zeros(3, 8, 8), torch.ones(3, 8, 8))
    with pytest.raises(ValueError, match="must be >= 0"):
        NoisyLinearImputer(noise=-0.1)


def test_an_unconverged_solve_warns():
    images = torch.randn(1, 64, 64, generator=torch.Generator().manual_seed(0))
    removed = torch.zeros(1, 64, 64, dtype=torch.bool)
    removed[0, 1:63, 1:63] = True
    with pytest.warns(RuntimeWarning, match="did not reach a relative residual"):
        linear_imputation(images, removed, max_iterations=1)
