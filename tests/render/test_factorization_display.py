"""show_factorization_on_image: the reference's numbers, its default colours on current matplotlib,
a legend, inputs and global state unchanged, clear errors."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from camwidgets.render.factorization import concept_colors, show_factorization_on_image

H, W, K = 24, 40, 4  # non-square on purpose


@pytest.fixture
def img() -> np.ndarray:
    return np.random.default_rng(0).random((H, W, 3)).astype(np.float32)


@pytest.fixture
def explanations() -> np.ndarray:
    maps = np.random.default_rng(1).random((K, H, W)).astype(np.float32)
    maps[:, 0, 0] = 0.0  # a pixel where no concept is active
    maps[2, 1, 1] = 1.0
    return maps


@pytest.mark.parity
@pytest.mark.parametrize("image_weight", [0.0, 0.3, 0.5, 1.0])
def test_matches_reference_bit_for_bit(ref, img, explanations, image_weight):
    """The reference's default colours call a matplotlib API removed in 3.9, so it gets our palette
    explicitly; it also zeroes parts of the explanations it is given, hence the copy."""
    colors = concept_colors(K)
    expected = ref.show_factorization_on_image(img, explanations.copy(), colors=colors, image_weight=image_weight)
    got = show_factorization_on_image(img, explanations, image_weight=image_weight)
    assert got.dtype == np.uint8 and got.shape == (H, W, 3)
    np.testing.assert_array_equal(got, expected)


def test_default_palette_is_gist_rainbow_and_works_on_this_matplotlib():
    colors = concept_colors(5)
    assert len(colors) == 5
    np.testing.assert_array_equal(colors[0], matplotlib.colormaps["gist_rainbow"](0.0))
    np.testing.assert_array_equal(colors[3], matplotlib.colormaps["gist_rainbow"](0.6000000000000001))


def test_each_pixel_takes_its_strongest_concept(img, explanations):
    colors = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 0.0)]
    pure = show_factorization_on_image(np.zeros_like(img), explanations, colors=colors, image_weight=0.0)
    strongest = explanations.argmax(axis=0)
    assert (pure[strongest == 2][:, :2] == 0).all() and (pure[strongest == 0][:, 1:] == 0).all()
    np.testing.assert_array_equal(pure[1, 1], [0, 0, 255])  # concept 2 at full strength
    np.testing.assert_array_equal(pure[0, 0], [0, 0, 0])  # nothing active: black
    np.testing.assert_array_equal(show_factorization_on_image(img, explanations, image_weight=1.0), np.uint8(img * 255))


def test_inputs_and_global_state_unchanged(img, explanations):
    img_before, maps_before = img.copy(), explanations.copy()
    font_size = matplotlib.rcParams["legend.fontsize"]
    show_factorization_on_image(img, explanations, concept_labels=[f"concept {i}" for i in range(K)])
    np.testing.assert_array_equal(img, img_before)
    np.testing.assert_array_equal(explanations, maps_before)
    assert matplotlib.rcParams["legend.fontsize"] == font_size


def test_legend_is_drawn_beside_the_image(img, explanations):
    plain = show_factorization_on_image(img, explanations)
    with_legend = show_factorization_on_image(img, explanations, concept_labels=["cat:0.9\ndog:0.1", "b", "c", "d"])
    assert with_legend.shape == (H, 2 * W, 3) and with_legend.dtype == np.uint8
    np.testing.assert_array_equal(with_legend[:, :W], plain)
    legend = with_legend[:, W:]
    assert legend.std() > 5  # something was drawn, not a blank panel


def test_tensor_explanations(img, explanations):
    np.testing.assert_array_equal(
        show_factorization_on_image(img, torch.from_numpy(explanations)), show_factorization_on_image(img, explanations)
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda i, e: (i, e[None]), "explanations must have shape"),
        (lambda i, e: (i, e[:, :10]), "explanations must have shape"),
        (lambda i, e: (i * 255, e), r"\[0, 1\]"),
        (lambda i, e: (i, e * np.nan), "finite"),
    ],
)
def test_bad_input_is_explained(img, explanations, change, message):
    with pytest.raises(ValueError, match=message):
        show_factorization_on_image(*change(img, explanations))
    with pytest.raises(ValueError, match="one label per concept"):
        show_factorization_on_image(img, explanations, concept_labels=["a"])
    with pytest.raises(ValueError, match="colors"):
        show_factorization_on_image(img, explanations, colors=[(1.0, 0.0, 0.0)])
