"""The explorer on an image–text model: typed phrases explained, listed with their similarity, their maps
side by side, a phrase as data (bounded, escaped, refused words answered beside the box)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import camwidgets as cw
from camwidgets import CAMExplorer
from camwidgets.core.images import IMAGENET_MEAN, IMAGENET_STD
from camwidgets.data.captions import make_captioned_scenes
from camwidgets.data.shapes_clip import CLIP_LAYER
from tests.conftest import hook_count

from .conftest import send_custom, send_update


@pytest.fixture(scope="module")
def shapes_clip():
    return cw.load_shapes_clip()


@pytest.fixture(scope="module")
def scenes() -> torch.Tensor:
    images = torch.from_numpy(make_captioned_scenes(2, seed=11).images)
    return (images - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)


@pytest.fixture
def explorer(shapes_clip, scenes):
    model, tokenizer = shapes_clip
    return CAMExplorer(model, scenes, tokenizer=tokenizer, prompts=["a red circle"], target_layers=[CLIP_LAYER])


def test_a_typed_phrase_is_explained_and_listed_with_its_similarity(explorer, shapes_clip, scenes):
    model, tokenizer = shapes_clip
    assert explorer.session.task.name == "text prompt" and explorer.controls.phrase.visible
    assert not explorer.controls.find_class.visible
    send_update(explorer.controls.phrase, value="a blue square")
    assert explorer.state.target == 1 and not explorer.overlay.error
    clip = cw.ImageTextModel(model, tokenizer)
    expected = cw.GradCAM(clip.image_tower, [CLIP_LAYER])(scenes, [clip.prompt_target("a blue square")] * 2)
    np.testing.assert_allclose(explorer.result.maps, expected, atol=1e-5)
    cosines = clip.similarities(scenes, ["a red circle", "a blue square"]).numpy()
    labels = [label for label, _ in explorer.controls.target.options]
    assert labels[1:] == [f"a red circle · cosine {cosines[0, 0]:.2f}", f"a blue square · cosine {cosines[0, 1]:.2f}"]
    assert '"a blue square" (cosine' in explorer.status_text(explorer.state)
    send_update(explorer.controls.target, index=1)  # the first phrase again, from the list
    assert explorer.state.target == 0
    assert hook_count(model) == 0


def test_the_phrases_maps_sit_side_by_side_and_a_click_chooses_one(explorer):
    explorer.explain_phrase("a yellow triangle")
    explorer.explain_phrase("a green cross")
    assert sorted(explorer.label_maps.item_keys) == ["0", "1", "2"]
    send_custom(explorer.label_maps, {"type": "pick", "id": 1, "key": "1"})
    assert explorer.state.target == 1


def test_a_phrase_is_data(explorer):
    hostile = "<img src=x onerror=alert(1)>"
    send_update(explorer.controls.phrase, value=hostile)
    note = explorer.controls.find_note.value
    assert "<img" not in note and "&lt;img" in note and "is not a word the shapes CLIP knows" in note
    assert explorer.session.task.labels == ["a red circle"] and explorer.state.target is None
    with pytest.raises(ValueError, match="at most 200"):
        explorer.explain_phrase("a " * 150)
    with pytest.raises(ValueError, match="phrase index"):
        explorer.set(target=5)


def test_an_image_text_model_asks_for_its_tokenizer_and_phrases(shapes_clip, scenes):
    model, tokenizer = shapes_clip
    with pytest.raises(ValueError, match="pass tokenizer= .* and prompts="):
        CAMExplorer(model, scenes)
    with pytest.raises(ValueError, match="pass prompts="):
        CAMExplorer(model, scenes, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="not one"):
        CAMExplorer(torch.nn.Conv2d(3, 2, 3), scenes, tokenizer=tokenizer, prompts=["a circle"])
