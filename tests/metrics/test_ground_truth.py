"""Ground-truth localization on synthetic shapes: the generator is deterministic and its masks are
exact, the shipped ShapesCNN classifies held-out images, and GradCAM on it points at the object far
more often than smooth random maps do."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import camwidgets as cw
from camwidgets.data.shapes import CLASSES, make_shapes, normalise
from camwidgets.data.shapes_cnn import SHAPES_CNN_LAYER, ShapesCNN, load_shapes_cnn


@pytest.fixture(scope="module")
def held_out():
    return make_shapes(300, seed=3)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(2)
    return load_shapes_cnn()


def _random_maps(count: int, size: int, seed: int, cells: int = 8) -> np.ndarray:
    """Smooth random maps in [0, 1]: uniform noise on a cells x cells grid, upsampled bilinearly."""
    coarse = torch.rand(count, 1, cells, cells, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)[:, 0].numpy()


# --- the generator ------------------------------------------------------------------------------


def test_make_shapes_is_deterministic_and_well_formed():
    a = make_shapes(64, size=64, seed=7)
    b = make_shapes(64, size=64, seed=7)
    c = make_shapes(64, size=64, seed=8)
    for name in ("images", "labels", "masks", "boxes"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.images, c.images)
    assert a.images.dtype == np.float32 and a.images.shape == (64, 3, 64, 64)
    assert a.images.min() >= 0.0 and a.images.max() <= 1.0
    assert a.labels.dtype == np.int64 and set(a.labels.tolist()) == set(range(len(CLASSES)))
    assert a.masks.dtype == bool and a.masks.shape == (64, 64, 64)
    assert a.boxes.dtype == np.float32 and a.boxes.shape == (64, 4)
    # Backgrounds differ from image to image.
    assert len({float(image.mean()) for image in a.images}) == 64


def test_masks_are_exact_and_match_boxes():
    batch = make_shapes(100, size=64, seed=4)
    areas = batch.masks.mean(axis=(1, 2))
    assert areas.min() > 0.01 and areas.max() < 0.3
    for image, mask, box in zip(batch.images, batch.masks, batch.boxes):
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        np.testing.assert_array_equal(box, [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1])
        x1, y1, x2, y2 = box.astype(int)
        # The object extent is about 20-45% of the side.
        assert 0.15 * 64 <= max(x2 - x1, y2 - y1) <= 0.5 * 64
        # One flat colour on every mask pixel, contrasting with the background.
        inside = image[:, mask]
        np.testing.assert_array_equal(inside, inside[:, :1].repeat(inside.shape[1], axis=1))
        outside_mean = image[:, ~mask].mean(axis=1)
        assert np.abs(inside[:, 0] - outside_mean).max() > 0.1
        # No pixel outside the mask carries exactly the object's colour everywhere around the mask:
        # the mask's one-pixel outer ring is (almost entirely) background.
        ring = np.zeros_like(mask)
        ring[max(y1 - 1, 0) : y2 + 1, max(x1 - 1, 0) : x2 + 1] = True
        ring &= ~mask
        same = (image[:, ring] == inside[:, :1]).all(axis=0)
        assert same.mean() < 0.05


def test_normalise_uses_fixed_constants():
    batch = make_shapes(200, seed=5)
    x = normalise(batch.images)
    assert x.dtype == torch.float32 and x.shape == (200, 3, 64, 64)
    assert abs(float(x.mean())) < 0.1 and abs(float(x.std()) - 1.0) < 0.1
    torch.testing.assert_close(normalise(torch.from_numpy(batch.images[0])), x[0])


# --- the shipped model and GradCAM against the masks --------------------------------------------


def test_shipped_model_accuracy(model, held_out):
    assert isinstance(model, ShapesCNN) and not model.training
    assert model.get_submodule(SHAPES_CNN_LAYER) is model.features[-1]
    with torch.no_grad():
        logits = model(normalise(held_out.images))
        layer_out = model.features(normalise(held_out.images[:1]))
    accuracy = float((logits.argmax(1).numpy() == held_out.labels).mean())
    print(f"\nShapesCNN held-out accuracy on make_shapes(300, seed=3): {accuracy:.4f}")
    assert accuracy >= 0.9
    assert tuple(layer_out.shape[-2:]) == (8, 8)


def test_gradcam_localizes_the_object(model, held_out):
    images, labels, masks = held_out.images[:100], held_out.labels[:100], held_out.masks[:100]
    targets = [cw.ClassifierOutputTarget(int(label)) for label in labels]
    maps = cw.GradCAM(model, [SHAPES_CNN_LAYER])(normalise(images), targets)
    assert maps.shape == (100, 64, 64)

    grad_pointing = float(cw.pointing_game(maps, masks, tolerance=4).mean())
    grad_energy = float(np.nanmean(cw.energy_pointing_game(maps, masks)))
    seeds = range(5)
    random_pointing = float(
        np.mean([cw.pointing_game(_random_maps(100, 64, s), masks, tolerance=4).mean() for s in seeds])
    )
    random_energy = float(
        np.mean([np.nanmean(cw.energy_pointing_game(_random_maps(100, 64, s), masks)) for s in seeds])
    )
    area = float(masks.mean())
    print(
        f"\npointing game (tolerance 4): GradCAM {grad_pointing:.3f}, smooth random maps {random_pointing:.3f}"
        f"\nenergy pointing game:        GradCAM {grad_energy:.3f}, smooth random maps {random_energy:.3f}, "
        f"mean mask area fraction {area:.3f}"
    )
    assert grad_pointing >= random_pointing + 0.3
    assert grad_energy > 2 * area
    assert grad_energy > random_energy
