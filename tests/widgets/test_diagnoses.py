"""Diagnoses that point the right way: a backbone's output is explained as an embedding (its keys
named when there is none), a detector without a box at the threshold says so and offers a lower
one, and a model for volumes or clips given photos says what it takes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from camwidgets.data.scenes import make_scenes
from camwidgets.data.task_models import load_shapes_detector
from camwidgets.explorer import CAMExplorer
from tests.conftest import hook_count


def test_a_backbone_output_without_logits_is_explained_as_an_embedding_or_its_keys_named():
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    backbone = Dinov2Model(
        Dinov2Config(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=56,
            patch_size=14,
        )
    ).eval()
    explorer = CAMExplorer(backbone, torch.rand(2, 3, 56, 56, generator=torch.Generator().manual_seed(1)))
    assert explorer.session.task.name == "embedding" and explorer.session.output_selector == "pooler_output"
    assert "similarity to image 0" in explorer.overlay.status and explorer.result.maps.shape == (2, 56, 56)

    class HiddenOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            return {"last_hidden_state": self.conv(x), "attentions": self.conv(x).mean(1)}

    with pytest.raises(
        ValueError,
        match=r"its keys: last_hidden_state, attentions\), and which part holds the class scores is not clear",
    ):
        CAMExplorer(HiddenOnly(), torch.rand(1, 3, 16, 16))


def test_a_detector_without_a_box_at_the_threshold_says_so_and_offers_a_lower_one():
    model, classes = load_shapes_detector()
    scene = np.round(make_scenes(1, seed=7).images[0].transpose(1, 2, 0) * 255).astype(np.uint8)
    best = float(model.eval()(torch.as_tensor(scene).permute(2, 0, 1)[None].float() / 255)[0]["scores"].max())
    explorer = CAMExplorer(
        model, [scene, np.full((224, 224, 3), 90, np.uint8)], labels=classes, score_threshold=min(1.0, best + 1e-4)
    )
    status = explorer.overlay.status
    assert (
        f"every detection (none here: no box scores at least {min(1.0, best + 1e-4):g}, the best scores {best:.3g}"
        in status
    )
    assert "pass score_threshold=" in status and not explorer.result.maps[0].any()
    explorer.set(image=1)
    assert "the detector found no box at all in this image" in explorer.overlay.status
    assert hook_count(model) == 0


def test_a_model_for_volumes_or_clips_given_photos_says_what_it_takes():
    model = torchvision.models.video.r3d_18(weights=None).eval()
    with pytest.raises(
        ValueError,
        match=r"VideoResNet refused the clips as read, a batch of shape \(1, 1, 3, 64, 64\) \(B, C, T, H, W\).*channels",
    ):
        CAMExplorer(model, torch.rand(1, 3, 64, 64))  # one photo's tensor, read as a clip of 3 one-channel frames
    with pytest.raises(ValueError, match=r"VideoResNet takes clips, not photos.*input_kind"):
        CAMExplorer(model, torch.rand(1, 3, 64, 64), input_kind="image")
    assert hook_count(model) == 0


class TwoTowers(torch.nn.Module):
    """A CLIP-like wrapper: image tower -> embedding, a text tower over fixed prompts -> embeddings,
    logits = cosine similarities. The text tower's (1, 65, 16) tokens read like 8x8 patches and a class token."""

    def __init__(self) -> None:
        super().__init__()
        self.image = torch.nn.Sequential(
            torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3, stride=4, padding=1)
        )
        self.words = torch.nn.Embedding(100, 16)
        self.text = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.GELU())
        self.register_buffer("prompts", torch.arange(3 * 65).remainder(100).view(3, 65))

    def forward(self, x):
        image = torch.nn.functional.normalize(self.image(x).mean(dim=(2, 3)), dim=-1)
        text = torch.nn.functional.normalize(self.text(self.words(self.prompts)).mean(dim=1), dim=-1)
        return 10 * image @ text.T


def test_only_layers_that_depend_on_the_image_are_offered():
    torch.manual_seed(0)
    model = TwoTowers().eval()
    explorer = CAMExplorer(model, torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2)))
    nodes = explorer.session.nodes
    for path in ("words", "text", "text.0", "text.1"):
        assert not nodes[path].selectable and "does not depend on the image" in nodes[path].why, path
    assert nodes["image.2"].selectable and nodes["image.0"].selectable
    assert explorer.state.layers == ("image",) and all(
        stage.startswith("image") for stage in explorer.session.tree.stages
    )
    with pytest.raises(ValueError, match="does not depend on the image"):
        explorer.set(layers=["text.0"])
    assert hook_count(model) == 0
