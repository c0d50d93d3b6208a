"""The shapes scenes and the task models trained on them: exact, consistent ground truth, and
shipped weights that load through torchvision's API and do their job on held-out scenes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from camwidgets.core.images import IMAGENET_MEAN, IMAGENET_STD
from camwidgets.data.scenes import SCENE_CLASSES, make_scenes, scene_targets

MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


@pytest.fixture(scope="module")
def held():
    """Held-out scenes: the training scripts train on seed 1 and report on seed 2; these are seed 3."""
    return make_scenes(12, seed=3)


def test_scenes_are_deterministic_and_their_ground_truth_agrees(held):
    again = make_scenes(12, seed=3)
    np.testing.assert_array_equal(again.images, held.images)
    assert held.images.shape == (12, 3, 224, 224) and held.images.min() >= 0 and held.images.max() <= 1
    for i in range(len(held)):
        masks, labels, boxes = held.masks[i], held.labels[i], held.boxes[i]
        assert 1 <= len(labels) <= 4 and len(masks) == len(boxes) == len(labels)
        assert (masks.sum(axis=0) <= 1).all(), "instances are the visible pixels: they never overlap"
        for mask, label, box in zip(masks, labels, boxes):
            assert (held.class_masks[i][mask] == label + 1).all()
            ys, xs = np.nonzero(mask)
            np.testing.assert_array_equal(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        assert set(np.unique(held.class_masks[i])) <= set(range(len(SCENE_CLASSES)))
    assert not np.array_equal(make_scenes(2, seed=4).images, held.images[:2])
    targets = scene_targets(held)
    assert targets[0]["labels"].min() >= 1 and targets[0]["boxes"].dtype == np.float32


@pytest.mark.parametrize(
    ("options", "message"), [({"count": 0}, "count"), ({"size": 32}, "size"), ({"max_objects": 9}, "max_objects")]
)
def test_bad_scene_requests_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        make_scenes(**{"count": 2, **options})


def test_the_segmenter_segments_held_out_scenes(held):
    from camwidgets.data.task_models import load_shapes_segmenter

    model, classes = load_shapes_segmenter()
    assert classes == list(SCENE_CLASSES) and not model.training
    with torch.no_grad():
        out = model((torch.from_numpy(held.images) - MEAN) / STD)["out"]
    assert out.shape == (12, 5, 224, 224)
    predicted, truth = out.argmax(1).numpy(), held.class_masks
    ious = [((predicted == c) & (truth == c)).sum() / max(((predicted == c) | (truth == c)).sum(), 1) for c in range(5)]
    assert np.mean(ious) >= 0.6, f"IoU per class {np.round(ious, 3)}"


def test_the_detector_finds_the_objects_of_held_out_scenes(held):
    from camwidgets.data.task_models import load_shapes_detector

    model, classes = load_shapes_detector()
    assert classes[0] == "background" and not model.training
    with torch.no_grad():
        outputs = model(list(torch.from_numpy(held.images)))
    found = total = 0
    for output, target in zip(outputs, scene_targets(held)):
        keep = output["scores"] >= 0.5
        iou = box_iou(torch.from_numpy(target["boxes"]), output["boxes"][keep])
        same = torch.from_numpy(target["labels"])[:, None] == output["labels"][keep][None]
        found += int(((iou >= 0.5) & same).any(dim=1).sum())
        total += len(target["labels"])
    assert found / total >= 0.8, f"found {found} of {total} objects"


def test_only_the_trained_parts_ship_and_a_wrong_file_is_refused(tmp_path):
    from camwidgets.data import task_models

    model = task_models.build_shapes_segmenter(pretrained=False)
    state = task_models.trained_state(model, task_models.FROZEN["segmenter"])
    assert state and all(name.startswith("classifier.") for name in state)
    wrong = tmp_path / "wrong.pt"
    torch.save({"classifier.nonsense": torch.zeros(1)}, wrong)
    with pytest.raises(ValueError, match="does not fit the model"):
        task_models._load_trained(model, wrong, "train_shapes_segmenter.py", task_models.FROZEN["segmenter"])
    with pytest.raises(FileNotFoundError, match="bench/train_shapes_segmenter.py"):
        task_models._load_trained(model, tmp_path / "absent.pt", "train_shapes_segmenter.py")


def test_the_vit_classifies_held_out_shapes_and_its_token_maps_need_no_reshape():
    import camwidgets as cw
    from camwidgets.data.shapes import CLASSES, make_shapes, normalise
    from camwidgets.data.task_models import SHAPES_VIT_LAYER, load_shapes_vit

    model, classes = load_shapes_vit()
    assert classes == list(CLASSES) and not model.training and type(model).__name__ == "VisionTransformer"
    held = make_shapes(200, seed=3)
    x = normalise(held.images)
    with torch.no_grad():
        accuracy = (model(x).argmax(1).numpy() == held.labels).mean()
    assert accuracy >= 0.9, f"held-out accuracy {accuracy:.3f}"
    layer = model.get_submodule(SHAPES_VIT_LAYER)
    plain = cw.GradCAM(model, [layer])(x[:8])
    np.testing.assert_allclose(
        plain, cw.GradCAM(model, [layer], reshape_transform=cw.vit_reshape_transform)(x[:8]), atol=1e-6
    )
    assert plain.shape == (8, 64, 64)
    eigen = cw.EigenCAM(model, [layer])(x[:32])
    assert cw.pointing_game(eigen, held.masks[:32], tolerance=0).mean() >= 0.75
