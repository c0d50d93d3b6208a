"""The explorer stays truthful and whole: labels follow a changed model like the maps do, an export
that cannot finish leaves the earlier set as it was, and numbers too large for a float are refused
with a reply."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from torch import nn

from camwidgets import CAMExplorer
from tests.conftest import Small, seeded

from .conftest import replies, send_custom, send_update


def test_labels_captions_and_target_menu_follow_a_replaced_head(tiny_images):
    model = seeded(Small, classes=3)
    labels = ["cat", "dog", "bird"]
    explorer = CAMExplorer(model, tiny_images, labels=labels)
    with torch.no_grad():
        model.fc.weight.zero_(), model.fc.bias.copy_(torch.tensor([5.0, 0.0, 0.0]))
    explorer.set(method="layercam")  # weights changed in place: every image is a cat
    assert (
        explorer.gallery.captions == ["image 0: cat", "image 1: cat"] and "cat (top class)" in explorer.overlay.status
    )
    head = nn.Linear(8, 3)
    with torch.no_grad():
        head.weight.zero_(), head.bias.copy_(torch.tensor([0.0, 0.0, 5.0]))
    model.fc = head  # a new head: now every image is a bird
    explorer.set(method="gradcam")
    assert explorer.session.top_classes(0, 1)[0][1] == "bird"
    assert explorer.gallery.captions == ["image 0: bird", "image 1: bird"]
    assert "bird (top class)" in explorer.overlay.status and "cat" not in explorer.overlay.status
    assert [label for label, _ in explorer.controls.target.options][1:] == [
        "bird (98.7%)",
        "cat (0.7%)",
        "dog (0.7%)",
    ]  # most probable first


def test_a_head_with_fewer_classes_resets_the_target_and_the_class_search(tiny_images):
    model = seeded(Small, classes=5)
    explorer = CAMExplorer(model, tiny_images, labels=[f"class {i}" for i in range(5)])
    explorer.set(target=4)
    model.fc = nn.Linear(8, 2)
    explorer.set(method="gradcam")
    assert explorer.state.target is None
    assert explorer.session.probabilities.shape == (2, 2)
    assert len(explorer.controls.find_class.options) == 2


def test_an_export_whose_rename_fails_leaves_the_earlier_set_and_no_temporary_file(explorer, tmp_path):
    stem = tmp_path / "view"
    first = explorer.export(stem)
    before = {kind: path.read_bytes() for kind, path in first.items()}
    explorer.set(method="layercam")
    os.replace(first["npz"], tmp_path / "kept.npz")
    first["npz"].mkdir()  # the .npz name is now a folder: that rename would fail
    with pytest.raises(ValueError, match="is a folder"):
        explorer.export(stem)
    assert first["png"].read_bytes() == before["png"] and first["json"].read_bytes() == before["json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.npz", "view.json", "view.npz", "view.png"]


def test_a_rename_that_fails_midway_puts_back_what_it_replaced(explorer, tmp_path, monkeypatch):
    stem = tmp_path / "view"
    first = explorer.export(stem)
    before = {kind: path.read_bytes() for kind, path in first.items()}
    explorer.set(method="layercam")
    real_replace = os.replace

    def failing(source, target, *args, **kwargs):  # the disk fills up at the second file
        if str(target).endswith(".npz"):
            raise OSError(28, "No space left on device")
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="No space left"):
        explorer.export(stem)
    monkeypatch.setattr(os, "replace", real_replace)
    assert {kind: path.read_bytes() for kind, path in first.items()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["view.json", "view.npz", "view.png"]
    assert json.loads(first["json"].read_text())["method"] == "GradCAM"


def test_numbers_too_large_for_a_float_are_refused_with_a_reply(tiny_model):
    from camwidgets.widgets.messages import is_finite_number

    assert not is_finite_number(10**400) and not is_finite_number(True) and is_finite_number(10**300)
    explorer = CAMExplorer(tiny_model, torch.rand(1, 3, 32, 32))
    explorer.overlay.annotations = {**explorer.overlay.annotations, "draw": "region"}
    send_custom(explorer.overlay, {"type": "region", "id": 7, "box": [0, 0, 10**400, 5]})
    reply = replies(explorer.overlay, "region")[-1]
    assert reply["id"] == 7 and "finite" in reply["error"]
    before = explorer.overlay.opacity
    send_update(explorer.overlay, opacity=10**400)
    assert explorer.overlay.opacity == before and np.isfinite(explorer.overlay.opacity)


def test_a_given_task_stays_when_the_model_changes(tiny_images):
    model = seeded(Small, classes=4)
    explorer = CAMExplorer(model, tiny_images, task="multilabel")
    model.fc = nn.Linear(8, 4)
    explorer.set(method="layercam")
    assert explorer.session.task.name == "multilabel"
