"""The explorer on detectors whose outputs are tensors: ultralytics YOLOv8, YOLO11 and YOLOv8-seg
(anchor rows), RT-DETR (query rows) and Hugging Face DETR (logits and pred_boxes), read as boxes
through the same detection task as torchvision's detectors.

Seeded random weights and small configs (no detection weights exist offline): the boxes mean
nothing, but how they are decoded, listed, drawn and explained does not depend on that.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from camwidgets.engine.detections import AnchorRows, AnchorScoreTarget, QueryLogits, QueryRows
from camwidgets.explorer import CAMExplorer
from camwidgets.explorer.session import ExplorerSession

from ..conftest import hook_count
from ..zoo import hf_detr, rt_detr, yolo11, yolov8, yolov8_seg
from .conftest import replies, send_custom

pytest.importorskip("ultralytics")
pytest.importorskip("transformers")

PHOTOS = ["chelsea", "coffee"]
DETECTORS = {  # build, reader, classes
    "yolov8n": (yolov8, AnchorRows, 80),
    "yolo11n": (yolo11, AnchorRows, 80),
    "yolov8n-seg": (yolov8_seg, AnchorRows, 80),
    "rt-detr": (rt_detr, QueryRows, 5),
    "hf-detr": (hf_detr, QueryLogits, 5),
}


@pytest.fixture(scope="module")
def sessions():
    built: dict[str, tuple] = {}

    def session(name: str) -> tuple[torch.nn.Module, ExplorerSession]:
        if name not in built:
            model = DETECTORS[name][0]()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                built[name] = model, ExplorerSession(model, PHOTOS, score_threshold=0.05)
        return built[name]

    return session


@pytest.mark.parametrize("name", DETECTORS)
def test_boxes_are_decoded_listed_and_each_box_explained_by_its_own_anchor(name, sessions):
    model, session = sessions(name)
    _, reader, classes = DETECTORS[name]
    assert isinstance(session.output_selector, reader) and session.task.name == "detection"
    names = getattr(model, "names", None) or model.config.id2label
    assert session.labels == [
        str(names[index]) for index in range(classes)
    ]  # the model's own class names, one per class
    found = session.task.detections[0]
    assert len(found["scores"]) >= 2 and (found["boxes"][:, 2:] > found["boxes"][:, :2]).all()
    assert (np.diff(found["scores"]) <= 1e-6).all(), "best box first"
    options = {value: text for text, value in session.task.target_options(session.state)}
    assert options[len(session.labels)] == session.task.box_text(0, 0) and session.task.box_text(0, 0).startswith(
        "box 0: "
    )
    assert len(session.task.annotations(session.state)["boxes"]) == len(found["scores"])

    other = next(
        (d for d in range(1, len(found["labels"])) if found["labels"][d] != found["labels"][0]), 1
    )  # another class where there is one
    maps = []
    for box in (0, other):
        state = session.validate(replace(session.state, box=box))
        target = session.task.targets(state, [0])[0]
        assert isinstance(target, AnchorScoreTarget) and target.anchor == found["anchors"][box]
        maps.append(session.compute_maps(state, [0])[0])
        assert maps[-1].std() > 0.01, f"box {box}: a blank map"
    assert np.abs(maps[0] - maps[1]).max() > 0.05, "the map depends on the box chosen"
    assert hook_count(model) == 0


def test_a_clicked_yolo_box_is_explained_and_drawn_as_chosen():
    model = yolov8()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explorer = CAMExplorer(model, PHOTOS, score_threshold=0.9)
    drawn = explorer.overlay.annotations["boxes"]
    assert len(drawn) >= 2 and all(item["chosen"] for item in drawn)
    default = explorer.result.maps[0].copy()
    send_custom(explorer.overlay, {"type": "pick_box", "id": 1, "index": 1})
    assert replies(explorer.overlay, "pick_box")[-1]["ok"]
    assert explorer.state.box == 1 and explorer.status_text(explorer.state).endswith(
        explorer.session.task.box_text(0, 1)
    )
    assert [item["chosen"] for item in explorer.overlay.annotations["boxes"]] == [d == 1 for d in range(len(drawn))]
    assert np.abs(explorer.result.maps[0] - default).max() > 0.05
    assert hook_count(model) == 0


def test_boxes_scored_one_still_have_a_map():
    """Their sigmoid has no gradient left; the class score before it does."""
    session = ExplorerSession(yolov8(), PHOTOS, score_threshold=0.999)
    found = session.task.detections[0]
    assert found["scores"][0] >= 0.9999, "the random head saturates the best boxes"
    state = session.validate(replace(session.state, box=0))
    assert session.compute_maps(state, [0])[0].std() > 0.01


def test_the_boxes_are_those_the_models_own_suppression_keeps_and_torchvisions_agrees(monkeypatch):
    from ultralytics.utils.nms import non_max_suppression

    model = yolov8()
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        raw = model(x)
        reader = AnchorRows(80, image_size=(224, 224))
        found = reader(raw)
        own = non_max_suppression(raw[0], 0.001, 0.7, nc=80, max_det=300)
        for image, kept in zip(found, own):
            np.testing.assert_allclose(image["boxes"].numpy(), kept[:, :4].numpy(), atol=1e-4)
            np.testing.assert_allclose(image["scores"].numpy(), kept[:, 4].numpy(), atol=1e-6)
            assert (image["labels"] == kept[:, 5].long()).all()
        monkeypatch.setattr(
            AnchorRows, "_model_keep", lambda self, rows: None
        )  # without ultralytics: torchvision's batched_nms
        for image, again in zip(found, reader(raw)):
            assert set(again["anchors"].tolist()) == set(image["anchors"].tolist())


def test_yolo_segmentation_draws_the_chosen_boxes_mask_inside_its_box(sessions):
    _, session = sessions("yolov8n-seg")
    found = session.task.detections[0]
    assert found["masks"].shape[0] == len(found["scores"])
    for box in range(3):
        marks = session.task.annotations(replace(session.state, box=box))
        shapes = marks["outlines"]
        x1, y1, x2, y2 = found["boxes"][box]
        points = np.concatenate([np.reshape(shape, (-1, 2)) for shape in shapes]) if shapes else np.zeros((0, 2))
        if (found["masks"][box] >= 0.5).any():
            assert len(points) > 0
        pad = 224 / found["masks"].shape[-1]  # one cell of the mask grid
        assert (
            (points[:, 0] >= x1 - pad)
            & (points[:, 0] <= x2 + pad)
            & (points[:, 1] >= y1 - pad)
            & (points[:, 1] <= y2 + pad)
        ).all()


def test_rt_detr_rows_are_explained_by_their_querys_logit(sessions):
    model, session = sessions("rt-detr")
    with torch.no_grad():
        found = session.output_selector(model(session.images.batch[:1]))[0]
    assert torch.allclose(torch.sigmoid(found["anchor_logits"]), found["anchor_scores"], atol=1e-5)
