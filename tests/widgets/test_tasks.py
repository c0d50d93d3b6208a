"""The explorer beyond classifiers: the task read from the model's output, targets built from a
clicked box, a dragged rectangle or a concept image, equal to the drop-in classes' maps, and
malformed browser messages refused with the view, the model and its hooks unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import camwidgets as cw
from camwidgets.data.scenes import make_scenes
from camwidgets.data.shapes import CLASSES, make_shapes, normalise
from camwidgets.data.shapes_cnn import SHAPES_CNN_LAYER, load_shapes_cnn
from camwidgets.data.task_models import load_shapes_detector, load_shapes_segmenter
from camwidgets.explorer import CAMExplorer
from camwidgets.explorer.export import explorer_page
from camwidgets.explorer.tasks import check_region, infer_task
from tests.conftest import Small, hook_count, seeded
from tests.widgets.conftest import replies, send_custom, send_update
from tests.widgets.test_standalone import app_data


@pytest.fixture(scope="module")
def scenes():
    scenes = make_scenes(2, seed=7)
    return [np.round(image.transpose(1, 2, 0) * 255).astype(np.uint8) for image in scenes.images]


@pytest.fixture(scope="module")
def detector():
    return load_shapes_detector()


@pytest.fixture(scope="module")
def segmenter():
    return load_shapes_segmenter()


def _same_view(explorer, before) -> None:
    assert explorer.state == before.state
    np.testing.assert_array_equal(explorer.result.maps, before.result.maps)


class _Snapshot:
    def __init__(self, explorer) -> None:
        self.state, self.result = explorer.state, explorer.result


def test_infer_task_reads_the_output_and_checks_a_given_task():
    two = torch.zeros(3, 5)
    assert infer_task(two, 3) == "classification"
    assert infer_task(two, 3, "embedding") == "embedding" and infer_task(two, 3, "multilabel") == "multilabel"
    assert infer_task({"out": torch.zeros(3, 4, 8, 8)}, 3) == "segmentation"
    assert infer_task(torch.zeros(3, 4, 8, 8), 3) == "segmentation"
    detections = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0), "scores": torch.zeros(0)}] * 3
    assert infer_task(detections, 3) == "detection"
    with pytest.raises(ValueError, match="does not fit"):
        infer_task(two, 3, "detection")
    with pytest.raises(ValueError, match="task must be one of"):
        infer_task(two, 3, "captioning")
    with pytest.raises(ValueError, match="cannot tell"):
        infer_task(torch.zeros(3), 3)


def test_check_region_takes_whole_pixel_rectangles_inside_the_image():
    assert check_region([1.2, 2, 30, 40.6], 64, 64) == (1, 2, 30, 41)
    assert check_region(None, 64, 64) is None
    for bad in (
        [0, 0, 10],
        [0, 0, 65, 10],
        [10, 0, 5, 8],
        [0, 0, 1, 10],
        [0, float("nan"), 5, 5],
        "0,0,5,5",
        [True, 0, 5, 5],
    ):
        with pytest.raises(ValueError):
            check_region(bad, 64, 64)


def test_detection_click_a_box_explains_that_detection(detector, scenes, tmp_path):
    model, classes = detector
    explorer = CAMExplorer(model, scenes, labels=classes)
    session = explorer.session
    assert session.task.name == "detection"
    found = session.task.detections[0]
    assert len(found["scores"]) >= 1 and (found["scores"] >= 0.5).all()
    drawn = explorer.overlay.annotations["boxes"]
    assert [item["index"] for item in drawn] == list(range(len(found["scores"])))
    np.testing.assert_allclose([item["box"] for item in drawn], found["boxes"], atol=0.06)
    assert all(item["chosen"] for item in drawn), "by default every detection is explained"
    default = explorer.result.maps[0].copy()

    send_custom(explorer.overlay, {"type": "pick_box", "id": 1, "index": 0})
    assert replies(explorer.overlay, "pick_box")[-1]["ok"]
    assert explorer.state.box == 0 and explorer.status_text(explorer.state).endswith(session.task.box_text(0, 0))
    assert [item["chosen"] for item in explorer.overlay.annotations["boxes"]] == [d == 0 for d in range(len(drawn))]
    layer = dict(model.named_modules())[explorer.state.layers[0]]
    other = session.task.detections[
        1
    ]  # the other image keeps its default: every detection, each box's map, combined by maximum
    rows = [0] + [1] * len(other["scores"])  # one row per box explained, in one batch
    targets = [cw.FasterRCNNBoxScoreTarget(labels=[int(found["labels"][0])], bounding_boxes=found["boxes"][:1])]
    targets += [
        cw.FasterRCNNBoxScoreTarget(labels=[int(label)], bounding_boxes=box[None])
        for label, box in zip(other["labels"], other["boxes"])
    ]
    each = cw.GradCAM(model, [layer])(session.images.batch[rows], targets)
    np.testing.assert_allclose(explorer.result.maps, np.stack([each[0], each[1:].max(axis=0)]), atol=1e-5)
    if len(found["scores"]) > 1:
        assert not np.allclose(explorer.result.maps[0], default, atol=1e-3), "one box's map differs from every box's"
    page = app_data(explorer_page(explorer))
    marks = page["answers"][explorer.gallery.part_id]["pick"]["0"][f"{explorer.overlay.part_id}__annotations"]
    assert [item["index"] for item in marks["boxes"]] == list(range(len(drawn)))  # the saved page draws the boxes
    assert marks["boxes"][0]["chosen"] and marks["draw"] == ""
    manifest = json.loads(explorer.export(tmp_path / "box")["json"].read_text())
    assert (
        manifest["task"] == "detection"
        and manifest["box"] == 0
        and manifest["target_label"] == session.task.box_text(0, 0)
    )

    # every box of a class is one choice of the target control
    label = int(found["labels"][0])
    explorer.controls.target.value = label
    assert explorer.state.target == label and explorer.state.box is None
    assert all(
        item["chosen"] == (int(found["labels"][item["index"]]) == label)
        for item in explorer.overlay.annotations["boxes"]
    )

    # a box belongs to the image it was clicked on
    send_custom(explorer.overlay, {"type": "pick_box", "id": 2, "index": 0})
    explorer.set(image=1)
    assert explorer.state.box is None and explorer.state.image == 1
    assert hook_count(model) == 0


def test_several_boxes_show_each_box_with_its_own_normalised_map(detector):
    model, classes = detector
    scene = make_scenes(1, seed=7).images[0]
    explorer = CAMExplorer(model, [np.round(scene.transpose(1, 2, 0) * 255).astype(np.uint8)], labels=classes)
    found = explorer.session.task.detections[0]
    square = classes.index("square")
    boxes = np.flatnonzero(found["labels"] == square)
    assert (
        len(boxes) == 2 and found["scores"][boxes[0]] > 0.99 > 0.7 > found["scores"][boxes[1]]
    )  # one class, a saturated and a weak score
    explorer.set(target=square)
    assert explorer.session.task.target_label(explorer.state) == "every square (2 boxes here)"
    gradcam = cw.GradCAM(model, [dict(model.named_modules())[explorer.state.layers[0]]])
    own = [
        gradcam(
            explorer.session.images.batch,
            [cw.FasterRCNNBoxScoreTarget(labels=[square], bounding_boxes=found["boxes"][b : b + 1])],
        )[0]
        for b in boxes
    ]
    assert not np.allclose(own[0], own[1], atol=0.05)  # the boxes' maps differ, so both must be seen
    np.testing.assert_allclose(explorer.result.maps[0], np.maximum(*own), atol=1e-5)
    for b, box_map in zip(boxes, own):  # inside each box the combined map is at least that box's own map
        x1, y1, x2, y2 = np.round(found["boxes"][b]).astype(int)
        assert (explorer.result.maps[0][y1:y2, x1:x2] >= box_map[y1:y2, x1:x2] - 1e-6).all()


def test_detection_refuses_malformed_box_messages(detector, scenes):
    model, classes = detector
    explorer = CAMExplorer(model, scenes[:1], labels=classes)
    before = _Snapshot(explorer)
    count = len(explorer.overlay.annotations["boxes"])
    for n, content in enumerate([{"index": count}, {"index": -1}, {"index": "0"}, {"index": True}, {"index": 0.5}, {}]):
        send_custom(explorer.overlay, {"type": "pick_box", "id": 10 + n, **content})
        answer = replies(explorer.overlay, "pick_box")[-1]
        assert answer["id"] == 10 + n and "error" in answer, content
        _same_view(explorer, before)
    with pytest.raises(ValueError, match="box must be the index"):
        explorer.set(box=count)
    send_custom(explorer.overlay, {"type": "region", "id": 30, "box": [0, 0, 10, 10]})
    assert "error" in replies(explorer.overlay, "region")[-1], "a detector's view takes no rectangle"
    _same_view(explorer, before)
    assert hook_count(model) == 0


def test_segmentation_lists_classes_and_a_rectangle_restricts_the_region(segmenter, scenes):
    model, classes = segmenter
    explorer = CAMExplorer(model, scenes, labels=classes, target_layers=["backbone.13"])
    session, task = explorer.session, explorer.session.task
    assert task.name == "segmentation" and session.output_selector == "out"
    predicted = task.predicted[0]
    listed = task.ranked(0, len(classes))
    shares = {c: float((predicted == c).mean()) for c in np.unique(predicted)}
    assert {c: round(s, 6) for c, _, s in listed} == {int(c): round(s, 6) for c, s in shares.items()}
    options = {value: text for text, value in explorer.controls.target.options}
    for c, share in shares.items():
        assert f"{share:.1%}" in options[int(c)]
    category = task.default_class(0)
    assert category != 0 and category == max((c for c in shares if c != 0), key=shares.get)
    assert explorer.overlay.annotations["draw"] == "region" and explorer.overlay.annotations["outlines"]
    outline = np.array(explorer.overlay.annotations["outlines"][0]).reshape(-1, 2)
    ys, xs = np.nonzero(predicted == category)
    assert xs.min() <= outline[:, 0].min() and outline[:, 0].max() <= xs.max() + 1 and ys.min() <= outline[:, 1].min()

    ys, xs = np.nonzero(predicted == category)
    rectangle = [int(xs.min()), int(ys.min()), int(xs.min() + xs.max()) // 2 + 2, int(ys.max()) + 1]
    send_custom(explorer.overlay, {"type": "region", "id": 1, "box": rectangle})
    assert replies(explorer.overlay, "region")[-1]["ok"]
    assert explorer.state.region == tuple(rectangle) and explorer.overlay.annotations["region"] == rectangle
    mask = predicted == category
    inside = np.zeros_like(mask)
    inside[rectangle[1] : rectangle[3], rectangle[0] : rectangle[2]] = True
    layer = dict(model.named_modules())["backbone.13"]
    expected = cw.GradCAM(model, [layer], output_selector="out")(
        session.images.batch[:1], [cw.SemanticSegmentationTarget(category, (mask & inside).astype(np.float32))]
    )[0]
    np.testing.assert_allclose(explorer.result.maps[0], expected, atol=1e-5)
    assert "in the rectangle" in explorer.status_text(explorer.state)

    before = _Snapshot(explorer)
    background_only = [0, 0, 3, 3] if not (predicted[:3, :3] == category).any() else None
    bad = [[0, 0, 10], [0, 0, 10, 1e9], [float("nan"), 0, 5, 5], [20, 20, 10, 30], "0,0,5,5", [0, 0, 1, 1]]
    for n, box in enumerate(bad + ([background_only] if background_only else [])):
        send_custom(explorer.overlay, {"type": "region", "id": 10 + n, "box": box})
        assert "error" in replies(explorer.overlay, "region")[-1], box
        _same_view(explorer, before)
    send_custom(explorer.overlay, {"type": "region", "id": 40, "box": None})
    assert explorer.state.region is None
    assert hook_count(model) == 0


def test_embedding_concepts_from_an_image_or_a_dragged_box():
    from torchvision.models import mobilenet_v2

    model = mobilenet_v2(weights="IMAGENET1K_V1").eval()
    model.classifier = torch.nn.Identity()
    explorer = CAMExplorer(model, ["chelsea", "coffee"], task="embedding", target_layers=["features.18"])
    session = explorer.session
    assert session.task.name == "embedding" and session.state.concept == 0 and session.labels == []
    embeddings = session.task.embeddings
    explorer.controls.target.value = 1  # the concept: the second image
    assert explorer.state.concept == 1
    cosine = F.cosine_similarity(embeddings, embeddings[1][None]).numpy()
    assert f"cosine {cosine[explorer.state.image]:.3f}" in explorer.status_text(explorer.state)
    assert explorer.gallery.captions == [f"cos {c:.2f} · {name}" for name, c in zip(session.images.names, cosine)]
    x = session.images.batch
    expected = cw.GradCAM(model, [model.features[18]])(x, [cw.SimilarityToConceptTarget(embeddings[1])] * 2)
    np.testing.assert_allclose(explorer.result.maps, expected, atol=1e-5)

    send_custom(explorer.overlay, {"type": "region", "id": 1, "box": [20, 30, 140, 150]})
    assert explorer.state.concept == 0 and explorer.state.region == (20, 30, 140, 150)
    crop = F.interpolate(x[:1, :, 30:150, 20:140], size=(224, 224), mode="bilinear", align_corners=False)
    with torch.no_grad():
        concept = model(crop)[0]
    expected = cw.GradCAM(model, [model.features[18]])(x, [cw.SimilarityToConceptTarget(concept)] * 2)
    np.testing.assert_allclose(explorer.result.maps, expected, atol=1e-5)
    assert explorer.overlay.annotations["region"] == [20, 30, 140, 150]
    with pytest.raises(ValueError, match="concept must be an image index"):
        explorer.set(concept=2)
    assert hook_count(model) == 0 and not model.training


def test_multilabel_gives_each_present_label_its_own_map():
    model = load_shapes_cnn()
    batch = make_shapes(3, seed=4)
    explorer = CAMExplorer(model, normalise(batch.images), labels=list(CLASSES), task="multilabel")
    task = explorer.session.task
    sigmoid = torch.sigmoid(model(normalise(batch.images))).detach().numpy()
    np.testing.assert_allclose(task.scores, sigmoid, atol=1e-6)
    present = [c for c in np.argsort(-sigmoid[0]) if sigmoid[0, c] >= 0.5] or [int(np.argmax(sigmoid[0]))]
    assert explorer.label_maps.item_keys == [str(c) for c in present]
    send_custom(explorer.label_maps, {"type": "pick", "id": 1, "key": str(present[0])})
    assert explorer.state.target == present[0]
    expected = cw.GradCAM(model, [SHAPES_CNN_LAYER])(
        normalise(batch.images), [cw.ClassifierOutputTarget(int(present[0]))] * 3
    )
    np.testing.assert_allclose(explorer.result.maps, expected, atol=1e-5)
    assert "sigmoid" in explorer.status_text(explorer.state)
    assert hook_count(model) == 0


def test_a_classifier_view_refuses_other_tasks_fields():
    model = load_shapes_cnn()
    explorer = CAMExplorer(model, normalise(make_shapes(2, seed=4).images), labels=list(CLASSES))
    assert explorer.session.task.name == "classification"
    for change in ({"box": 0}, {"region": (0, 0, 8, 8)}, {"concept": 1}):
        with pytest.raises(ValueError, match="for other tasks"):
            explorer.set(**change)


def test_the_detectors_layer_sweep_shows_the_stages_its_boxes_depend_on(detector, scenes):
    model, classes = detector
    explorer = CAMExplorer(model, scenes[:1], labels=classes)
    explorer._refresh_sweep()
    stages = explorer.session.tree.stages
    assert any(stage.startswith("rpn.") for stage in stages)  # the tree's stages include the RPN head ...
    shown = list(explorer.sweep.item_keys)
    assert shown and not explorer.sweep.message  # ... but the sweep works, on the backbone's stages
    assert all(stage.startswith("backbone.") for stage in shown) and shown == [
        s for s in stages if s.startswith("backbone.")
    ]
    assert hook_count(model) == 0


def test_the_score_threshold_slider_shows_and_explains_only_the_boxes_above_it(detector, scenes):
    model, classes = detector
    explorer = CAMExplorer(model, scenes, labels=classes)
    slider = explorer.controls.threshold
    assert slider.visible and slider.value == 0.5
    explorer.set(image=1)  # its scene has boxes scoring 0.41 and 0.08
    outputs = explorer.session.task._outputs
    counts = {t: int((outputs[1]["scores"] >= t).sum()) for t in (0.05, 0.3, 0.5)}
    assert counts[0.05] > counts[0.3] > counts[0.5], "the scene needs boxes scoring from 0.05 to 0.5"
    explorer.set(box=0)
    send_update(slider, value=0.05)  # the browser moved the handle
    assert explorer.session.task.threshold == 0.05 and explorer.state.box is None
    assert len(explorer.overlay.annotations["boxes"]) == counts[0.05]
    low = explorer.result.maps[1].copy()
    send_update(slider, value=0.3)
    assert len(explorer.overlay.annotations["boxes"]) == counts[0.3]
    assert explorer.overlay.error == ""
    assert not np.allclose(explorer.result.maps[1], low, atol=1e-4), "fewer boxes, the same map"
    send_update(slider, value=7)  # out of range: the slider keeps to 0.01..1
    assert explorer.session.task.threshold == 1.0
    classifier = CAMExplorer(seeded(Small), torch.rand(1, 3, 32, 32))
    assert not classifier.controls.threshold.visible
