"""The command line (`python -m camwidgets explain`) and the functions behind it, on bundled photos
with the pretrained mobilenet_v2."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import camwidgets as cw
from camwidgets import cli, explain
from camwidgets.pretrained import class_names, load_model

# ImageNet class indices (torchvision's category list).
EGYPTIAN_CAT, FLAGPOLE, FOOTBALL_HELMET = 285, 557, 560


@pytest.fixture(scope="module")
def pretrained():
    """One pretrained model for the whole module: ``(model, weights)``."""
    return load_model("mobilenet_v2")


@pytest.fixture(scope="module")
def labels(pretrained):
    return class_names(pretrained[1])


@pytest.fixture
def shared_model(monkeypatch, pretrained):
    """Let main() reuse the module's model instead of loading its own (the real loader is covered by
    test_demo_command)."""
    monkeypatch.setattr(cli, "_load_model", lambda name, download: pretrained)
    return pretrained


@pytest.fixture
def recorded(monkeypatch):
    """Explanations computed by main(), to check the data and not only the file."""
    results = []
    original = explain.explain_photo

    def recording(*args, **kwargs):
        result = original(*args, **kwargs)
        results.append(result)
        return result

    monkeypatch.setattr(cli, "explain_photo", recording)  # the name the command line calls
    return results


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_demo_command(tmp_path, capsys, recorded):
    """What `make demo` runs: defaults everywhere, real model loading."""
    out = tmp_path / "nested" / "demo.png"
    assert cli.main(["explain", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    assert "top-5 classes" in printed and "Egyptian cat" in printed
    assert "layer: features.18 (suggested" in printed

    image = cv2.imread(str(out))
    assert image is not None, "the PNG could not be decoded"
    height, width = image.shape[:2]
    assert 250 <= height <= 1000 and 1000 <= width <= 2500  # one row: photo + 4 panels
    assert image.std() > 20  # a picture, not a blank canvas
    assert not [p for p in out.parent.iterdir() if p.name != "demo.png"], "temporary file left behind"

    (result,) = recorded
    assert result.target_index == EGYPTIAN_CAT == int(np.argmax(result.probabilities))
    assert list(result.maps) == list(explain.DEFAULT_METHODS)
    assert result.photo.shape == (224, 224, 3)
    for cam in result.maps.values():
        assert cam.shape == (224, 224) and cam.dtype == np.float32
        assert cam.min() >= 0 and cam.max() <= 1 and cam.max() > 0.5


def test_default_output_path(tmp_path, monkeypatch, capsys, shared_model):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["explain", "coffee", "--method", "EigenCAM"]) == 0
    assert (tmp_path / "out" / "coffee_mobilenet_v2.png").is_file()
    assert "espresso" in capsys.readouterr().out


def test_image_file_and_options(tmp_path, capsys, shared_model, recorded):
    out = tmp_path / "rocket.png"
    argv = [
        "explain",
        str(cw.photo_path("rocket")),
        "--method",
        "gradcam,layercam",
        "--method",
        "gradcam",
        "--layer",
        "features.17",
        "--target",
        "space shuttle",
        "--out",
        str(out),
    ]
    assert cli.main(argv) == 0
    (result,) = recorded
    assert list(result.maps) == ["gradcam", "layercam"]  # repeated and comma-separated, duplicates dropped
    assert result.layer == "features.17" and not result.layer_suggested
    assert result.target_name == "space shuttle"
    assert "layer: features.17 (chosen)" in capsys.readouterr().out
    assert out.is_file()


def test_target_by_name_and_by_index(tmp_path, pretrained, shared_model, recorded):
    """Targets change the maps: the helmet she holds vs the flag behind her."""
    base = [
        "explain",
        "astronaut",
        "--method",
        "gradcam,layercam",
        "--layer",
        "features.18",
        "--out",
        str(tmp_path / "a.png"),
    ]
    assert cli.main([*base, "--target", "Football Helm"]) == 0  # case-insensitive unique prefix
    assert cli.main([*base, "--target", str(FLAGPOLE)]) == 0
    by_name, by_index = recorded
    assert by_name.target_index == FOOTBALL_HELMET and by_name.target_name == "football helmet"
    assert by_index.target_index == FLAGPOLE
    for method in ("gradcam", "layercam"):
        assert _correlation(by_name.maps[method], by_index.maps[method]) < 0.9, method
    assert np.abs(by_name.maps["gradcam"] - by_index.maps["gradcam"]).mean() > 0.1

    # The same class by index gives the same maps as by name.
    model, weights = pretrained
    same = explain.explain_photo(
        model, weights, cw.load_photo("astronaut"), ["gradcam", "layercam"], target=FOOTBALL_HELMET, figure=False
    )
    for method in ("gradcam", "layercam"):
        np.testing.assert_allclose(same.maps[method], by_name.maps[method], atol=1e-6)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["explain", "no_such_photo"], "neither an image file nor a bundled photo"),
        (["explain", "--method", "gradcm"], "unknown method 'gradcm'"),
        (["explain", "--method", "gradcam,nope"], "Registered: gradcam"),
        (["explain", "--model", "resnet"], "unknown model 'resnet'"),
        (["explain", "--layer", "features.99"], "no module named 'features.99'"),
        (["explain", "--layer", "classifier"], "no spatial grid"),
        (["explain", "--target", "kitty"], "unknown class 'kitty'"),
        (["explain", "--target", "sea"], "ambiguous"),
        (["explain", "--target", "1000"], "out of range"),
    ],
)
def test_errors_exit_2_with_one_line(argv, expected, tmp_path, capsys, shared_model):
    out = tmp_path / "never.png"
    assert cli.main([*argv, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    message = captured.err.strip()
    assert message.startswith("error: ") and expected in message
    assert "\n" not in message and "Traceback" not in message
    assert not out.exists()


def test_help_and_bad_usage(capsys):
    assert cli.main(["explain", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--model", "--method", "--layer", "--target", "--out"):
        assert option in text
    assert cli.main(["explain", "--bogus"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err
    assert cli.main([]) == 2


def test_resolve_class(labels):
    assert explain.resolve_class("egyptian cat", labels) == EGYPTIAN_CAT
    assert explain.resolve_class("EGYPT", labels) == EGYPTIAN_CAT
    assert explain.resolve_class(" 285 ", labels) == EGYPTIAN_CAT
    assert explain.resolve_class(np.int64(3), labels) == 3
    assert explain.resolve_class("maillot", labels) == 638  # an exact name wins over a longer one
    with pytest.raises(ValueError, match="sea anemone"):
        explain.resolve_class("sea", labels)
    with pytest.raises(ValueError, match="out of range"):
        explain.resolve_class(-1, labels)


def test_center_crop_matches_the_model_input():
    photo = cw.load_photo("chelsea")  # 451 x 300
    crop = explain.center_crop(photo)
    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    from PIL import Image
    from torchvision.transforms import functional as TF

    resized = np.asarray(
        TF.resize(Image.fromarray(photo), [224], antialias=True)
    )  # torchvision's own resize: 224 x 336
    np.testing.assert_array_equal(crop, resized[:, 56:280])
    tall = np.zeros((500, 100, 3), np.uint8)
    assert explain.center_crop(tall, 64).shape == (64, 64, 3)


def test_parse_methods():
    assert explain.parse_methods(None) == list(explain.DEFAULT_METHODS)
    assert explain.parse_methods("GradCAMPlusPlus, eigencam") == ["gradcam++", "eigencam"]
    assert explain.parse_methods(["layercam", "LayerCAM,hirescam"]) == ["layercam", "hirescam"]
