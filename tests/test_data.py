"""Tests for the bundled sample photos (camwidgets.data)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from camwidgets.data import PHOTOS_DIR, load_photo, photo_names, photo_path

EXPECTED = {
    # name: (stored width, stored height) after downscaling to longest side <= 512
    "astronaut": (512, 512),
    "chelsea": (451, 300),
    "coffee": (512, 341),
    "rocket": (512, 342),
}


def test_photo_names_sorted_and_complete():
    names = photo_names()
    assert names == sorted(EXPECTED)
    assert all("." not in n for n in names)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_photo_loads_as_uint8_rgb(name):
    img = load_photo(name)
    width, height = EXPECTED[name]
    assert img.dtype == np.uint8
    assert img.shape == (height, width, 3)
    assert max(img.shape[:2]) <= 512
    # A real photo, not a blank or single-channel image repeated three times.
    assert img.std() > 20
    assert not (np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2]))


def test_channels_are_rgb_not_bgr():
    # Chelsea is an orange tabby: red dominates blue on average.
    img = load_photo("chelsea").astype(np.float64)
    assert img[..., 0].mean() > img[..., 2].mean() + 20


def test_each_call_returns_a_fresh_array():
    a = load_photo("coffee")
    a[:] = 0
    assert load_photo("coffee").max() > 0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_size_int_sets_shorter_side_and_keeps_aspect(name):
    width, height = EXPECTED[name]
    img = load_photo(name, size=224)
    h, w = img.shape[:2]
    assert min(h, w) == 224
    assert img.dtype == np.uint8 and img.shape[2] == 3
    assert abs(w / h - width / height) < 0.01


def test_size_int_upscales_too():
    img = load_photo("chelsea", size=600)
    assert img.shape == (600, round(451 * 600 / 300), 3)


def test_size_tuple_is_width_height():
    img = load_photo("astronaut", size=(200, 100))
    assert img.shape == (100, 200, 3)


def test_size_equal_to_stored_size_is_unchanged():
    assert np.array_equal(load_photo("chelsea", size=300), load_photo("chelsea"))


@pytest.mark.parametrize("bad", [0, -5, (10,), (10, 0), (1.5, 2), "224", True])
def test_bad_size_raises(bad):
    with pytest.raises(ValueError, match="size must be"):
        load_photo("chelsea", size=bad)


def test_photo_path_points_to_existing_file_in_package():
    for name in photo_names():
        path = photo_path(name)
        assert path.is_absolute() and path.is_file()
        assert path.parent == PHOTOS_DIR
        assert path.stem == name
    assert photo_path("rocket.jpg") == photo_path("rocket")


def test_unknown_name_lists_available_and_closest_match():
    with pytest.raises(ValueError) as info:
        load_photo("chelsae")
    msg = str(info.value)
    assert "'chelsae'" in msg
    assert "Did you mean 'chelsea'?" in msg
    for name in EXPECTED:
        assert name in msg


def test_unknown_name_without_close_match_still_lists_names():
    with pytest.raises(ValueError) as info:
        photo_path("zzzzzz")
    msg = str(info.value)
    assert "Did you mean" not in msg
    assert "astronaut, chelsea, coffee, rocket" in msg


def test_photos_are_small():
    total = sum(p.stat().st_size for p in PHOTOS_DIR.iterdir() if p.suffix in (".png", ".jpg"))
    assert total < 1_000_000


def test_sources_md_credits_every_file_with_a_licence():
    text = (PHOTOS_DIR / "SOURCES.md").read_text(encoding="utf-8")
    assert "scikit-image" in text and "0.26.0" in text
    files = sorted(p.name for p in PHOTOS_DIR.iterdir() if p.suffix in (".png", ".jpg"))
    assert len(files) == len(EXPECTED)
    for filename in files:
        rows = [line for line in text.splitlines() if line.startswith(f"| `{filename}`")]
        assert len(rows) == 1, f"SOURCES.md needs one table row for {filename}"
        row = rows[0]
        assert re.search(r"public domain|CC0", row, re.IGNORECASE), row
        # Original and bundled sizes are recorded.
        assert len(re.findall(r"\d+ x \d+", row)) == 2, row
    for credit in ("Stefan van der Walt", "Rachel Michetti", "NASA", "SpaceX"):
        assert credit in text


def test_the_shortcut_marker_lands_where_the_split_says_and_never_on_the_object():
    from camwidgets.data.shapes import CLASSES, make_shapes
    from camwidgets.data.shortcut import SHORTCUT_CLASS, make_shortcut_shapes

    square = CLASSES.index(SHORTCUT_CLASS)
    biased = make_shortcut_shapes(300, seed=5, marked="shortcut")
    assert not (biased.markers & biased.masks).any()
    assert not biased.marked[biased.labels != square].any()
    assert 0.8 <= biased.marked[biased.labels == square].mean() <= 0.97  # 90% of the squares, by draw
    moved = make_shortcut_shapes(300, seed=5, marked="others")
    assert (moved.marked == (moved.labels != square)).all()
    plain = make_shapes(300, seed=5)
    np.testing.assert_array_equal(
        moved.images[moved.labels == square], plain.images[plain.labels == square]
    )  # unmarked: unchanged
    ys, xs = np.nonzero(moved.markers[np.flatnonzero(moved.marked)[0]])
    assert (np.ptp(ys) + 1, np.ptp(xs) + 1) == (8, 8)  # 8 x 8 at 64 px
    again = make_shortcut_shapes(300, seed=5, marked="others")
    np.testing.assert_array_equal(again.images, moved.images)
    assert not make_shortcut_shapes(20, seed=5, marked="none").marked.any()


@pytest.mark.parametrize(
    ("options", "message"), [({"marked": "all"}, "marked must be one of"), ({"rate": 1.5}, "rate must be")]
)
def test_bad_shortcut_splits_are_refused(options, message):
    from camwidgets.data.shortcut import make_shortcut_shapes

    with pytest.raises(ValueError, match=message):
        make_shortcut_shapes(4, **options)


def test_the_shapes_dataset_gives_explain_dataset_rows_the_models_see_exactly():
    import torch

    from camwidgets.data.shapes import ShapesDataset, make_shapes, normalise, preprocess
    from camwidgets.data.shapes_cnn import load_shortcut_cnn

    batch = make_shapes(3, seed=2)
    row = ShapesDataset(batch)[1]
    assert (
        row["image"].dtype == np.uint8
        and row["label"] == int(batch.labels[1])
        and np.array_equal(row["mask"], batch.masks[1])
    )
    torch.testing.assert_close(preprocess(row["image"]), normalise(batch.images[1]), rtol=0, atol=0)
    model = load_shortcut_cnn()
    assert not model.training and model(normalise(batch.images)).shape == (3, 4)
