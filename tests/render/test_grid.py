"""Tests for camwidgets.render.grid: the explanation figure and atomic saving."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from camwidgets.render.grid import explanation_grid, save_figure

TOP = [("tabby", 0.5), ("tiger cat", 0.25), ("Egyptian cat", 0.125), ("lynx", 0.0625), ("plastic bag", 0.03125)]


@pytest.fixture
def photo():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(48, 48, 3), dtype=np.uint8)


@pytest.fixture
def maps():
    ramp = np.linspace(0, 1, 48 * 48, dtype=np.float32).reshape(48, 48)
    return {"gradcam": ramp, "gradcam++": ramp.T.copy(), "eigencam": 1 - ramp, "my map": ramp}


def test_panels_and_titles(photo, maps):
    fig = explanation_grid(photo, maps, "the title", TOP)
    axes = fig.axes
    assert len(axes) == 5
    assert fig.get_suptitle() == "the title"
    photo_title = axes[0].get_title(loc="left")
    assert photo_title.splitlines()[0] == "1. tabby  50.0%" and len(photo_title.splitlines()) == 5
    # registered methods by class name, anything else as given
    assert [ax.get_title() for ax in axes[1:]] == ["GradCAM", "GradCAMPlusPlus", "EigenCAM", "my map"]
    np.testing.assert_array_equal(axes[0].images[0].get_array(), photo / np.float32(255))


def test_wraps_after_five_panels(photo, maps):
    many = {f"m{i}": maps["gradcam"] for i in range(8)}
    fig = explanation_grid(photo, many, "t", TOP)
    assert len(fig.axes) == 10  # 2 rows of 5; the last one stays empty
    assert not fig.axes[-1].images and not fig.axes[-1].axison


def test_map_must_match_the_photo(photo, maps):
    with pytest.raises(ValueError, match="maps\\[name\\]\\[0\\]"):
        explanation_grid(photo, {"gradcam": maps["gradcam"][None]}, "t", TOP)
    with pytest.raises(ValueError, match="48x48"):
        explanation_grid(photo, {"gradcam": np.zeros((24, 24), np.float32)}, "t", TOP)


def test_leaves_pyplot_alone(photo, maps):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    explanation_grid(photo, maps, "t", TOP)
    assert plt.get_fignums() == before


def test_save_figure_creates_folders_and_replaces(tmp_path, photo, maps):
    fig = explanation_grid(photo, maps, "t", TOP)
    target = tmp_path / "a" / "b" / "grid.png"
    assert save_figure(fig, target) == target
    first = cv2.imread(str(target))
    assert first is not None and first.shape[1] > first.shape[0] > 50
    target.write_bytes(b"old")
    save_figure(fig, str(target))
    assert cv2.imread(str(target)) is not None
    assert os.listdir(target.parent) == ["grid.png"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # a new file's usual mode, not mkstemp's 0600


def test_save_figure_failure_leaves_nothing(tmp_path, photo, maps):
    fig = explanation_grid(photo, maps, "t", TOP)
    target = tmp_path / "grid.notaformat"
    with pytest.raises(ValueError):
        save_figure(fig, target)
    assert os.listdir(tmp_path) == []
