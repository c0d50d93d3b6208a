"""Tests for camwidgets.render.show_cam_on_image, including parity with grad-cam 1.5.7."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from camwidgets.render import show_cam_on_image

H, W = 24, 40  # non-square on purpose


@pytest.fixture
def rng():
    return np.random.default_rng(99)


@pytest.fixture
def img(rng):
    return rng.random((H, W, 3)).astype(np.float32)


@pytest.fixture
def mask(rng):
    m = rng.random((H, W)).astype(np.float32)
    m[0, 0], m[0, 1] = 0.0, 1.0  # both ends of the colormap
    return m


@pytest.mark.parity
@pytest.mark.parametrize("use_rgb", [False, True])
@pytest.mark.parametrize("colormap", [cv2.COLORMAP_JET, cv2.COLORMAP_VIRIDIS, cv2.COLORMAP_INFERNO, cv2.COLORMAP_BONE])
@pytest.mark.parametrize("image_weight", [0.0, 0.25, 0.5, 0.8, 1.0, np.float64(0.3), np.float32(0.6)])
def test_matches_reference_bit_for_bit(ref, img, mask, use_rgb, colormap, image_weight):
    img_before, mask_before = img.copy(), mask.copy()
    ours = show_cam_on_image(img, mask, use_rgb=use_rgb, colormap=colormap, image_weight=image_weight)
    theirs = ref.show_cam_on_image(img, mask, use_rgb=use_rgb, colormap=colormap, image_weight=image_weight)
    assert ours.dtype == np.uint8 == theirs.dtype
    assert ours.shape == (H, W, 3)
    assert np.array_equal(ours, theirs)
    assert np.array_equal(img, img_before) and np.array_equal(mask, mask_before)


@pytest.mark.parity
@pytest.mark.parametrize("img_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask_dtype", [np.float32, np.float64])
def test_matches_reference_for_other_dtypes(ref, rng, img_dtype, mask_dtype):
    img = rng.random((H, W, 3)).astype(img_dtype)
    mask = rng.random((H, W)).astype(mask_dtype)
    assert np.array_equal(
        show_cam_on_image(img, mask, use_rgb=True),
        ref.show_cam_on_image(img, mask, use_rgb=True),
    )


@pytest.mark.parity
def test_matches_reference_on_real_photo_and_scaled_cam(ref, rng):
    from camwidgets.compat.preprocessing import scale_cam_image
    from camwidgets.data import load_photo

    photo = np.float32(load_photo("coffee", size=(96, 64))) / 255
    cam = scale_cam_image(rng.normal(size=(1, 7, 7)), (96, 64))[0]
    assert np.array_equal(
        show_cam_on_image(photo, cam, use_rgb=True),
        ref.show_cam_on_image(photo, cam, use_rgb=True),
    )


def test_use_rgb_swaps_heatmap_channels(img, mask):
    bgr = show_cam_on_image(img * 0, mask, use_rgb=False, image_weight=0.0)
    rgb = show_cam_on_image(img * 0, mask, use_rgb=True, image_weight=0.0)
    assert np.array_equal(bgr[..., ::-1], rgb)
    # JET at 1.0 is dark red: R dominates in RGB order.
    assert rgb[0, 1, 0] > rgb[0, 1, 2]


def test_image_weight_one_returns_stretched_image(img, mask):
    out = show_cam_on_image(img, mask, image_weight=1.0)
    expected = np.uint8(255 * (img / img.max()))
    assert np.array_equal(out, expected)


def test_all_black_blend_returns_black_without_warning():
    img = np.zeros((4, 5, 3), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = show_cam_on_image(img, np.zeros((4, 5)), image_weight=1.0)
    assert out.dtype == np.uint8 and out.shape == (4, 5, 3) and not out.any()


def test_grayscale_image_with_channel_axis_is_accepted(rng, mask):
    gray = rng.random((H, W, 1)).astype(np.float32)
    out = show_cam_on_image(gray, mask)
    assert out.shape == (H, W, 3)


# --------------------------------------------------------------------------- errors


def test_uint8_image_is_rejected_with_hint(img, mask):
    with pytest.raises(ValueError, match=r"float image.*got dtype uint8.*[Dd]ivide a uint8 image by 255"):
        show_cam_on_image(np.uint8(img * 255), mask)


def test_float_image_in_0_255_is_rejected_with_hint(img, mask):
    with pytest.raises(ValueError, match=r"values in \[0, 1\].*divide it by 255"):
        show_cam_on_image(img * 255, mask)


def test_error_is_still_an_exception_like_the_reference(img, mask):
    with pytest.raises(Exception):
        show_cam_on_image(img * 255, mask)


def test_negative_or_nan_image_is_rejected(img, mask):
    with pytest.raises(ValueError, match=r"values in \[0, 1\], got values in \[-0\.4\d*, 0\.4\d*\]\. Clip or rescale"):
        show_cam_on_image(img - 0.5, mask)
    bad = img.copy()
    bad[3, 3, 1] = np.nan
    with pytest.raises(ValueError, match="img contains NaN"):
        show_cam_on_image(bad, mask)


@pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan"), "0.5", None])
def test_bad_image_weight(img, mask, weight):
    with pytest.raises(ValueError, match=r"image_weight must be a number in \[0, 1\]"):
        show_cam_on_image(img, mask, image_weight=weight)


def test_mask_size_mismatch(img):
    with pytest.raises(
        ValueError, match=r"does not match the image size \(H, W\) = \(24, 40\).*target_size=\(40, 24\)"
    ):
        show_cam_on_image(img, np.zeros((40, 24)))


def test_batched_mask_hint(img):
    with pytest.raises(ValueError, match=r"grayscale_cam\[0\]"):
        show_cam_on_image(img, np.zeros((1, H, W)))


def test_nan_mask_is_rejected(img, mask):
    bad = mask.copy()
    bad[5, 5] = np.nan
    with pytest.raises(ValueError, match="mask contains NaN"):
        show_cam_on_image(img, bad)


def test_image_shape_errors(mask):
    with pytest.raises(ValueError, match=r"img\[:, :, None\]"):
        show_cam_on_image(np.zeros((H, W)), mask)
    with pytest.raises(ValueError, match="channels-first"):
        show_cam_on_image(np.zeros((3, H, W)), mask)


def test_bad_colormap(img, mask):
    with pytest.raises(ValueError, match="cv2.COLORMAP_"):
        show_cam_on_image(img, mask, colormap=999)


@pytest.mark.parity
def test_out_of_range_mask_warns_but_keeps_reference_numbers(ref, img):
    mask = np.linspace(-0.5, 1.5, H * W, dtype=np.float32).reshape(H, W)
    with pytest.warns(RuntimeWarning, match=r"outside \[0, 1\].*scale_cam_image"):
        ours = show_cam_on_image(img, mask)
    assert np.array_equal(ours, ref.show_cam_on_image(img, mask))
