"""The explorer on volumes, clips and signals (the kernel's side; tests/browser/test_spacetime_explorer.py
drives the views in Chromium): inputs from arrays, tensors and real files, the view's traits and what
the browser may write to them, the gallery, sweep, export, saved page and errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from camwidgets.core.samples import input_kind_of
from camwidgets.data.motifs import make_motif_signals
from camwidgets.data.motion import make_motion_clips
from camwidgets.data.solids import make_solids
from camwidgets.data.spacetime_models import load_motifs_cnn, load_motion_cnn, load_solids_cnn
from camwidgets.explorer import CAMExplorer

from ..conftest import hook_count
from .test_standalone import app_buffer, app_data


@pytest.fixture(scope="module")
def models():
    return {"volume": load_solids_cnn(), "clip": load_motion_cnn(), "signal": load_motifs_cnn()}


def volumes(count: int = 2) -> np.ndarray:
    return make_solids(count, seed=31).volumes


def frames(count: int = 2) -> list[np.ndarray]:
    return [clip.transpose(1, 2, 3, 0) for clip in make_motion_clips(count, seed=31).clips]  # (T, H, W, 3)


def signals(count: int = 2) -> np.ndarray:
    return make_motif_signals(count, seed=31).signals


def test_the_kind_of_input_comes_from_the_files_the_model_and_the_frames(models, tmp_path):
    solids, motion, motifs = (models[k][0] for k in ("volume", "clip", "signal"))
    assert input_kind_of(solids, list(volumes()), None) == "volume"
    assert input_kind_of(solids, frames(), None) == "clip"  # (T, H, W, 3) frames for a 3-D CNN
    assert input_kind_of(motifs, list(signals()), None) == "signal"
    assert input_kind_of(solids, str(tmp_path / "a.mp4"), None) == "clip"
    assert input_kind_of(motion, str(tmp_path / "scan.nii.gz"), None) == "volume"
    with pytest.raises(ValueError, match="input_kind must be one of image, volume, clip, signal"):
        input_kind_of(solids, [], "movie")


def test_a_volume_explorer_shows_maps_of_every_voxel_and_keeps_the_crosshair_across_maps(models):
    model, classes = models["volume"]
    hooks = hook_count(model)
    explorer = CAMExplorer(model, list(volumes()), labels=classes, task="multilabel")
    view = explorer.overlay
    assert explorer.session.kind == "volume" and view.kind == "spacetime" and view.sample_kind == "volume"
    assert explorer.result.maps.shape == (2, 32, 32, 32) and view.shape == [32, 32, 32]
    assert len(view.sample) == 32**3 * 4 and view.levels().shape == (32, 32, 32)
    np.testing.assert_array_equal(view.levels(), explorer.result.levels[0])
    assert view.position == [16, 16, 16] and view.window[1] > 0
    assert explorer.gallery.item_keys == ["0", "1"] and explorer.gallery.size == 72
    explorer.strips.refresh()
    assert explorer.sweep.item_keys[-1] == "features.3"  # the layer sweep, its maps in the posters' plane
    assert set(explorer.panels.parts) == {"compare", "export"}  # guided, concepts and metrics draw 2-D pictures
    # the browser moves the crosshair and the window; a new map of the same volume keeps them
    assert view.accept_browser({"position": [3, 4, 5], "window": [1.0, 2.0], "projection": "mip"}) == []
    explorer.set(method="layercam", layers=["features.1.2"])
    assert view.position == [3, 4, 5] and view.window == [1.0, 2.0] and "LayerCAM" in view.status
    # a position outside the volume, a window of no width, a sample from the browser: refused
    assert view.accept_browser({"position": [32, 0, 0], "window": [1.0, 0.0], "sample": b"x"}) == [
        "sample",
        "position",
        "window",
    ]
    assert view.position == [3, 4, 5]
    explorer.set(image=1)  # another volume starts at its middle
    assert view.position == [16, 16, 16]
    assert hook_count(model) == hooks


def test_a_method_defined_on_images_only_is_refused_in_the_widget(models):
    model, classes = models["volume"]
    explorer = CAMExplorer(model, list(volumes(1)), labels=classes)
    shown = explorer.overlay.heatmap
    assert "sess" not in explorer.session.methods and "gradcam" in explorer.session.methods  # not offered
    assert "SESS" not in str(explorer.controls.method.options)
    with pytest.raises(ValueError, match=r"SESS is defined on images \(B, C, H, W\) only.*volumes and clips"):
        explorer.set(method="sess")
    assert explorer.state.method == "gradcam" and explorer.overlay.heatmap == shown


def test_clips_from_a_video_file_and_signals_from_npy_files(models, tmp_path):
    paths = []
    for index, clip in enumerate(frames()):
        path = tmp_path / f"clip{index}.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 4, (32, 32))
        for frame in (clip * 255).round().astype(np.uint8):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        paths.append(str(path))
    model, classes = models["clip"]
    explorer = CAMExplorer(model, paths, labels=classes, input_kind="clip")
    assert explorer.session.images.names == ["clip0.avi", "clip1.avi"]
    assert explorer.overlay.shape == [8, 32, 32] and explorer.overlay.position == [4]
    assert len(explorer.overlay.sample) == 8 * 32 * 32 * 3
    decoded = explorer.session.images.display[0].astype(int)  # MJPG is lossy: close to the frames written
    assert np.abs(decoded - np.round(frames()[0] * 255)).mean() < 12
    assert explorer.overlay.accept_browser({"position": [8]}) == ["position"]
    model, classes = models["signal"]
    for index, signal in enumerate(signals()):
        np.save(tmp_path / f"signal{index}.npy", signal)
    explorer = CAMExplorer(model, [str(tmp_path / "signal0.npy"), str(tmp_path / "signal1.npy")], labels=classes)
    assert explorer.overlay.shape == [1, 256] and explorer.overlay.position == [0, 256]
    assert explorer.result.maps.shape == (2, 256)
    assert explorer.overlay.accept_browser({"position": [10, 40]}) == [] and explorer.overlay.position == [10, 40]
    assert explorer.overlay.accept_browser({"position": [40, 10]}) == ["position"]


def test_volumes_from_nifti_files(models, tmp_path):
    nibabel = pytest.importorskip("nibabel")
    paths = []
    for index, volume in enumerate(volumes()[:, 0]):
        paths.append(str(tmp_path / f"scan{index}.nii.gz"))
        nibabel.save(nibabel.Nifti1Image(volume, np.diag([2.5, 1.0, 1.5, 1.0])), paths[-1])  # anisotropic voxels
    model, classes = models["volume"]
    explorer = CAMExplorer(model, paths, labels=classes)
    assert explorer.session.kind == "volume"
    np.testing.assert_allclose(explorer.session.images.batch[:, 0].numpy(), volumes()[:, 0], atol=1e-6)
    assert explorer.overlay.spacing == [2.5, 1.0, 1.5]  # each slice drawn at its physical aspect
    arrays = CAMExplorer(model, list(volumes()), labels=classes)
    assert arrays.overlay.spacing == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "items, kind, message",
    [
        ([np.zeros((2, 3))], "volume", r"a volume must have shape \(D, H, W\) or \(C, D, H, W\); got \(2, 3\)"),
        ([np.zeros((1, 8, 8, 8)), np.zeros((1, 8, 8, 9))], "volume", "the same shape after preprocess"),
        ([np.full((8, 32, 32, 3), 2.0)], "clip", r"clip frames must be uint8 or float in \[0, 1\]"),
        ([np.full((1, 256), np.nan)], "signal", "NaN or infinite"),
        (["missing.npy"], "signal", "no such file"),
        ([], "signal", "no signal given"),
    ],
)
def test_bad_inputs_are_refused_with_what_to_pass(models, items, kind, message):
    model, classes = models["volume" if kind == "volume" else kind]
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        CAMExplorer(model, items, labels=classes, input_kind=kind)
    assert hook_count(model) == 0


def test_export_and_the_saved_page_show_the_item_as_the_browser_does(models, tmp_path):
    model, classes = models["signal"]
    explorer = CAMExplorer(model, list(signals(3)), labels=classes)
    explorer.overlay.accept_browser({"mode": "heatmap"})
    paths = explorer.export(tmp_path / "signal")
    picture = cv2.imread(str(paths["png"]))
    assert picture.shape[1] == 256 and picture.shape[0] > 64
    saved = np.load(paths["npz"])
    assert saved["image"].shape == (1, 256) and saved["map"].shape == (256,)
    page = explorer.to_html(tmp_path / "signal.html").read_text()
    data, view = app_data(page), explorer.overlay.part_id
    picks = data["answers"][explorer.gallery.part_id]["pick"]
    assert sorted(picks) == ["0", "1", "2"]
    for index, answer in picks.items():  # each signal and its map, as the kernel sends them on a gallery click
        sample = np.frombuffer(app_buffer(page, data, answer[f"{view}__sample"]["buffer"]), np.float32)
        levels = np.frombuffer(app_buffer(page, data, answer[f"{view}__heatmap"]["buffer"]), np.uint8)
        np.testing.assert_array_equal(sample, signals(3)[int(index)].ravel())
        np.testing.assert_array_equal(levels, explorer.result.levels[int(index)])
        assert answer[f"{view}__shape"] == [1, 256] and answer[f"{view}__position"] == [0, 256]
    model, classes = models["clip"]
    explorer = CAMExplorer(model, frames(), labels=classes)
    strip = explorer.view_picture()
    assert strip.shape[0] == 160 and strip.shape[1] > 8 * 150  # eight frames in a row


def test_a_torchvision_video_model_gets_its_weights_transforms_and_class_names():
    """Weights stand for their transforms (resize 128 x 171, crop 112, Kinetics mean and std) and
    their categories; no weights file is needed for either."""
    import torchvision
    from torchvision.models.video import R3D_18_Weights

    weights = R3D_18_Weights.KINETICS400_V1
    torch.manual_seed(0)
    model = torchvision.models.video.r3d_18(weights=None).eval()
    clip = (np.random.default_rng(0).random((16, 128, 171, 3)) * 255).astype(np.uint8)
    explorer = CAMExplorer(model, [clip], preprocess=weights, labels=weights)
    assert explorer.session.kind == "clip" and explorer.session.labels[:2] == ["abseiling", "air drumming"]
    expected = weights.transforms()(torch.from_numpy(clip).permute(0, 3, 1, 2))
    np.testing.assert_allclose(explorer.session.images.batch[0].numpy(), expected.numpy(), atol=1e-6)
    assert explorer.overlay.shape == [16, 112, 112] and explorer.state.layers == ("layer4.1",)
