"""Tests for camwidgets.compat.preprocessing, including parity with grad-cam 1.5.7."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from camwidgets.compat.preprocessing import deprocess_image, preprocess_image, scale_cam_image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def _uint8_image(rng, h=37, w=53):
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- preprocess


@pytest.mark.parity
@pytest.mark.parametrize("kind", ["uint8", "float32", "float64", "bgr_view"])
@pytest.mark.parametrize(
    "mean,std",
    [((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)), (IMAGENET_MEAN, IMAGENET_STD), ([0.1, 0.9, 0.3], [2.0, 0.05, 1.0])],
)
def test_preprocess_matches_reference(ref, rng, kind, mean, std):
    img = _uint8_image(rng)
    if kind == "float32":
        img = img.astype(np.float32) / 255
    elif kind == "float64":
        img = img.astype(np.float64) / 255
    elif kind == "bgr_view":
        img = img[:, :, ::-1]  # negative strides must work
    before = img.copy()

    ours = preprocess_image(img, mean=mean, std=std)
    theirs = ref.preprocess_image(img, mean=list(mean), std=list(std))

    assert ours.dtype == torch.float32
    assert ours.shape == (1, 3, img.shape[0], img.shape[1]) == theirs.shape
    assert ours.is_contiguous()
    torch.testing.assert_close(ours.double(), theirs.double(), atol=1e-6, rtol=0)
    assert np.array_equal(img, before), "preprocess_image modified its input"


def test_preprocess_default_maps_uint8_range_to_minus_one_one():
    img = np.zeros((2, 2, 3), dtype=np.uint8)
    img[0, 0] = 255
    out = preprocess_image(img)
    assert out[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0]
    assert out[0, :, 1, 1].tolist() == [-1.0, -1.0, -1.0]


def test_preprocess_channel_order_and_scalar_mean():
    img = np.zeros((1, 1, 3), dtype=np.float32)
    img[0, 0] = (0.1, 0.2, 0.3)
    out = preprocess_image(img, mean=0.0, std=1.0)
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor([0.1, 0.2, 0.3]))


@pytest.mark.parametrize(
    "shape,expect",
    [
        ((8, 8), "grayscale"),
        ((3, 8, 8), "channels-first"),
        ((8, 8, 4), "alpha"),
        ((1, 8, 8, 3), "one image at a time"),
        ((8, 8, 2), r"shape \(H, W, 3\)"),
    ],
)
def test_preprocess_rejects_bad_shapes(shape, expect):
    with pytest.raises(ValueError, match=expect):
        preprocess_image(np.zeros(shape, dtype=np.uint8))


def test_preprocess_rejects_bad_dtypes_and_params():
    with pytest.raises(ValueError, match=r"dtype int32.*astype\(np.float32\)"):
        preprocess_image(np.zeros((4, 4, 3), dtype=np.int32))
    with pytest.raises(ValueError, match="one value per channel"):
        preprocess_image(np.zeros((4, 4, 3), dtype=np.uint8), mean=(0.5, 0.5))
    with pytest.raises(ValueError, match="std must not contain zeros"):
        preprocess_image(np.zeros((4, 4, 3), dtype=np.uint8), std=(0.5, 0.0, 0.5))
    with pytest.raises(TypeError, match="NumPy array"):
        preprocess_image(torch.zeros(4, 4, 3))


# --------------------------------------------------------------------------- deprocess


@pytest.mark.parity
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 20, 30), (20, 30, 3), (5, 7)])
def test_deprocess_matches_reference(ref, rng, dtype, shape):
    img = (rng.normal(size=shape) * 3 + 1).astype(dtype)
    before = img.copy()
    ours = deprocess_image(img)
    theirs = ref.deprocess_image(img)
    assert ours.dtype == np.uint8 and ours.shape == shape
    assert np.array_equal(ours, theirs)
    assert np.array_equal(img, before)


def test_deprocess_formula_on_known_values():
    # mean 0, std 2: 0.5 -/+ 2 / (2 + 1e-5) * 0.1 = 0.400001, 0.599999 -> 102.0002, 152.9997,
    # truncated (not rounded) to uint8.
    assert deprocess_image(np.array([-2.0, 2.0])).tolist() == [102, 152]
    # Outliers beyond 5 standard deviations clip to 0 and 255; zeros stay mid-grey.
    x = np.zeros(100)
    x[0], x[1] = -10.0, 10.0
    out = deprocess_image(x)
    assert out[0] == 0 and out[1] == 255 and np.all(out[2:] == 127)


def test_deprocess_constant_input_is_mid_grey():
    assert np.all(deprocess_image(np.full((4, 4), 7.0)) == 127)


def test_deprocess_rejects_empty_and_non_numeric():
    with pytest.raises(ValueError, match="empty"):
        deprocess_image(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="real-valued numeric"):
        deprocess_image(np.array([["a", "b"]]))


# --------------------------------------------------------------------------- scale_cam


@pytest.mark.parity
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("target_size", [None, (9, 7), (224, 160), (5, 3), (31, 64)])
def test_scale_cam_matches_reference(ref, rng, dtype, target_size):
    cam = (rng.random((4, 7, 9)) * 5 - 2).astype(dtype)
    cam[2] = 0.25  # a constant map
    before = cam.copy()
    ours = scale_cam_image(cam, target_size)
    theirs = ref.scale_cam_image(cam, target_size)
    assert ours.dtype == np.float32
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)
    assert np.array_equal(cam, before)


@pytest.mark.parity
def test_scale_cam_3d_without_resize_matches_reference(ref, rng):
    cam = rng.normal(size=(2, 4, 5, 6)).astype(np.float32)
    np.testing.assert_allclose(scale_cam_image(cam), ref.scale_cam_image(cam), atol=1e-6, rtol=0)


def test_scale_cam_range_and_target_size_order(rng):
    cam = rng.normal(size=(3, 6, 10)).astype(np.float32)
    out = scale_cam_image(cam, (20, 12))  # (width, height)
    assert out.shape == (3, 12, 20)
    flat = scale_cam_image(cam).reshape(3, -1)
    np.testing.assert_allclose(flat.min(axis=1), 0, atol=1e-7)
    np.testing.assert_allclose(flat.max(axis=1), 1, atol=1e-6)


def test_scale_cam_3d_trilinear(rng):
    cam = rng.random((2, 4, 5, 6)).astype(np.float32)
    out = scale_cam_image(cam, (12, 10, 8))  # (width, height, depth)
    assert out.shape == (2, 8, 10, 12) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    # Same size: trilinear resampling is the identity.
    same = scale_cam_image(cam, (6, 5, 4))
    np.testing.assert_allclose(same, scale_cam_image(cam), atol=1e-6)


@pytest.mark.parametrize(
    "cam,target_size,expect",
    [
        (np.zeros((7, 9)), (9, 7), r"cam\[None\]"),
        (np.zeros((1, 2, 3, 4, 5)), None, r"\(N, H, W\)"),
        (np.zeros((2, 7, 9)), (9, 7, 3), r"\(width, height\)"),
        (np.zeros((2, 7, 9)), (0, 7), "positive ints"),
        (np.zeros((2, 4, 7, 9)), (9, 7), r"\(width, height, depth\)"),
        (np.zeros((2, 7, 9), dtype=complex), None, "real-valued"),
    ],
)
def test_scale_cam_errors(cam, target_size, expect):
    with pytest.raises(ValueError, match=expect):
        scale_cam_image(cam, target_size)
