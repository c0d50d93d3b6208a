"""Images in every accepted form, labels and preprocessing defaults, the module tree, token models,
and the real pretrained mobilenet_v2 with a bundled photo."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from camwidgets import CAMExplorer, ClassifierOutputTarget, load_photo, photo_path
from camwidgets.core.image_sets import load_images
from camwidgets.core.images import IMAGENET_MEAN, IMAGENET_STD
from tests.conftest import CountingForward, photo_tensor


def test_paths_names_pil_and_arrays_give_the_same_batch():
    photo = load_photo("coffee")
    forms = [[photo_path("coffee")], ["coffee"], [Image.fromarray(photo)], [photo], photo]
    sets = [load_images(form, None, torch.device("cpu"), True) for form in forms]
    for other in sets[1:]:
        assert torch.equal(other.batch, sets[0].batch)
        assert np.array_equal(other.photos, sets[0].photos)
    assert sets[0].batch.shape == (1, 3, 224, 224) and sets[0].photos.shape == (1, 224, 224, 3)
    assert sets[0].names == ["coffee"]


def test_images_without_a_file_are_told_apart_and_pil_images_keep_their_file_name(tmp_path):
    photo = load_photo("coffee")
    Image.fromarray(photo).save(tmp_path / "my_cup.png")
    with Image.open(tmp_path / "my_cup.png") as opened:
        images = load_images(
            [photo, photo[::-1].copy(), opened, Image.fromarray(photo)], None, torch.device("cpu"), True
        )
    assert images.names == ["image 0", "image 1", "my_cup", "image 3"]


@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut", "rocket"])
def test_the_explorers_input_is_the_weights_own_transforms(pretrained_mobilenet, name):
    _, weights = pretrained_mobilenet
    photo = load_photo(name)
    theirs = weights.transforms()(Image.fromarray(photo))[None]
    for preprocess in (None, weights, weights.transforms()):
        ours = load_images([photo], preprocess, torch.device("cpu"), True)
        torch.testing.assert_close(ours.batch, theirs, atol=0, rtol=0)
        restored = ours.photos[0].astype(np.float32) / 255  # the photo shown is the one the model saw
        expected = (theirs[0].permute(1, 2, 0).numpy() * np.array(IMAGENET_STD) + np.array(IMAGENET_MEAN)).clip(0, 1)
        assert np.abs(restored - expected).max() <= 1e-5


def test_a_tensor_batch_is_used_as_given_and_shown_unnormalised():
    batch = photo_tensor("rocket", 64)
    images = load_images(batch, None, torch.device("cpu"), True)
    assert images.batch is not batch and torch.equal(images.batch, batch)
    restored = images.photos[0].astype(np.float32) / 255
    expected = (batch[0].permute(1, 2, 0).numpy() * np.array(IMAGENET_STD) + np.array(IMAGENET_MEAN)).clip(0, 1)
    assert np.abs(restored - expected).max() <= 1 / 255 + 1e-6


def test_custom_preprocess_callable_and_bad_images_are_explained():
    def preprocess(image):
        return torch.from_numpy(np.array(image.resize((40, 40)))).permute(2, 0, 1).float() / 255

    images = load_images([load_photo("astronaut")], preprocess, torch.device("cpu"), False)
    assert images.batch.shape == (1, 3, 40, 40) and images.photos.shape == (1, 40, 40, 3)
    with pytest.raises(TypeError, match="cannot use int as an image"):
        load_images([3], None, torch.device("cpu"), False)
    with pytest.raises(ValueError, match="neither an image file nor a bundled photo"):
        load_images(["no-such-picture.png"], None, torch.device("cpu"), False)
    with pytest.raises(ValueError, match="images is empty"):
        load_images([], None, torch.device("cpu"), False)


def test_labels_must_match_the_outputs(tiny_model, tiny_images):
    explorer = CAMExplorer(tiny_model, tiny_images, labels=["a", "b", "c", "d", "e"], target_layers=["stem"])
    assert explorer.session.labels[2] == "c" and explorer.state.layers == ("stem",)
    with pytest.raises(ValueError, match="got 2 labels for a model with 5 outputs"):
        CAMExplorer(tiny_model, tiny_images, labels=["a", "b"])


def test_token_layers_of_a_vit_are_selectable_and_explained():
    from torchvision.models import VisionTransformer

    torch.manual_seed(0)
    model = VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=4
    ).eval()
    torch.nn.init.normal_(model.heads.head.weight)  # torchvision starts the head at zero: no gradient anywhere
    explorer = CAMExplorer(model, torch.randn(1, 3, 32, 32))
    nodes = {node.path: node for node in explorer.session.tree.nodes}
    layer = "encoder.layers.encoder_layer_1.ln_1"
    assert nodes[layer].layout == "NLC" and nodes[layer].selectable and nodes[layer].shape == "17×16"
    explorer.set(layers=[layer])
    assert explorer.overlay.error == "" and explorer.result.maps.shape == (1, 32, 32)
    assert not nodes["heads"].selectable


def test_pretrained_mobilenet_with_a_bundled_photo(pretrained_mobilenet):
    model, _ = pretrained_mobilenet
    explorer = CAMExplorer(model, ["chelsea", "coffee"])
    session = explorer.session
    assert session.labels[281] == "tabby" and len(session.labels) == 1000
    assert session.tree.suggested == "features.18" and explorer.state.layers == ("features.18",)
    nodes = {node.path: node for node in session.tree.nodes}
    assert nodes["features.18"].shape == "1280×7×7" and "cw-suggested" not in nodes["features.18"].kind
    assert not nodes["classifier.1"].selectable and session.tree.stages[:2] == ["features.0", "features.1"]
    top = session.top_classes(0, 3)
    assert top[0][1] in ("tabby", "tiger cat", "Egyptian cat") and top[0][2] > 0.3
    assert session.top_classes(1, 1)[0][1] == "espresso"
    assert explorer.overlay.status == f"GradCAM · features.18 · {top[0][1]} (top class)"
    assert explorer.gallery.captions == [f"chelsea: {top[0][1]}", "coffee: espresso"]
    cat_map = explorer.result.maps[0]
    assert cat_map[56:168, 56:168].mean() > cat_map.mean() * 0.9  # the cat fills the centre of the crop
    with CountingForward(model) as forwards:
        explorer.set(method="layercam")
        explorer.set(eigen_smooth=True)
    assert forwards.count == 0 and explorer.overlay.status.startswith("LayerCAM · features.18 · ")
    explorer.set(target=285)
    assert explorer.overlay.status == "LayerCAM · features.18 · Egyptian cat · eigen_smooth"


def test_channels_last_stages_of_a_swin_are_laid_out_by_themselves():
    from torchvision.models.swin_transformer import SwinTransformer

    from camwidgets import Explainer, swin_reshape_transform

    torch.manual_seed(0)
    model = SwinTransformer(
        patch_size=[4, 4], embed_dim=16, depths=[1, 1], num_heads=[1, 2], window_size=[2, 2], num_classes=3
    ).eval()
    torch.nn.init.normal_(model.head.weight)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    explorer = CAMExplorer(model, x)
    nodes = {node.path: node for node in explorer.session.tree.nodes}
    assert nodes["features.1"].layout == "NHWC" and nodes["features.1"].shape == "8×8×16"
    assert nodes["permute"].layout == "NCHW"  # already channels-first
    explorer.set(layers=["features.1"], target=2)
    expected = Explainer(model, ["features.1"], swin_reshape_transform).compute(
        "gradcam", x, [ClassifierOutputTarget(2)] * 2
    )
    np.testing.assert_allclose(explorer.result.maps, expected.numpy(), atol=1e-6)
    explorer.panels.concepts.compute()  # no head takes features.1's 16 channels: concepts without class names
    assert "concepts at features.1" in explorer.panels.concepts.message.value
    assert explorer.panels.concepts.grid.captions == ["concept 0", "concept 1", "concept 2", "concept 3"]
