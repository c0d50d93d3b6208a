"""Image–text models: text prompts as targets on open_clip and Hugging Face CLIP (random weights, offline),
the shapes CLIP, the same maps through several inputs, transformer methods on the image tower."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import camwidgets as cw
from camwidgets.engine import Explainer, TextPromptTarget, suggest_layer
from camwidgets.engine.image_text import MAX_PROMPT_CHARACTERS
from tests.conftest import hook_count

PROMPTS = ["a photo of a dog", "a photo of a cat", "a diagram"]


@pytest.fixture(scope="module")
def open_clip_vit():
    open_clip = pytest.importorskip("open_clip")
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = open_clip.create_model("ViT-B-32", pretrained=None).eval()
    return model, open_clip.get_tokenizer("ViT-B-32")


def _tiny_hugging_face_clip():
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    small = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
    config = CLIPConfig(
        text_config={**small, "vocab_size": 100, "max_position_embeddings": 16},
        vision_config={**small, "image_size": 64, "patch_size": 16},
        projection_dim=16,
    )
    return CLIPModel(config).eval()


def _letters_tokenizer(texts, padding=True, return_tensors="pt"):
    """A stand-in for a Hugging Face tokenizer: one id per letter, padded, with the attention mask."""
    ids = [[min(ord(c), 99) for c in text][:14] for text in texts]
    width = max(len(row) for row in ids)
    input_ids = torch.tensor([row + [0] * (width - len(row)) for row in ids])
    return {"input_ids": input_ids, "attention_mask": (input_ids != 0).long()}


def test_a_prompts_target_is_the_zero_shot_probability(open_clip_vit):
    model, tokenizer = open_clip_vit
    clip = cw.ImageTextModel(model, tokenizer)
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        image = F.normalize(model.encode_image(images), dim=-1)
        text = F.normalize(model.encode_text(tokenizer(PROMPTS)), dim=-1)
        expected = (model.logit_scale.exp() * image @ text.T).softmax(dim=-1)
        embeddings = model.visual(images)
    for p in range(3):
        target = clip.prompt_target(PROMPTS, p)
        assert torch.allclose(torch.stack([target(e) for e in embeddings]), expected[:, p], atol=1e-5)
    single = clip.prompt_target(PROMPTS[1])
    assert torch.allclose(single(embeddings[0]), model.logit_scale.exp() * image[0] @ text[1], atol=1e-4)
    torch.testing.assert_close(clip.similarities(images, PROMPTS), image @ text.T, atol=1e-5, rtol=0)


def test_prompt_embeddings_are_computed_once(open_clip_vit):
    model, tokenizer = open_clip_vit
    calls = []
    clip = cw.ImageTextModel(model, lambda texts: calls.append(list(texts)) or tokenizer(texts))
    images = torch.randn(1, 3, 224, 224)
    cam = cw.GradCAM(clip.image_tower, ["transformer.resblocks.11.ln_1"])
    for _ in range(3):
        cam(images, [clip.prompt_target(PROMPTS, 0)])
    assert calls == [PROMPTS]
    assert hook_count(model) == 0


def test_prompts_are_bounded_data(open_clip_vit):
    clip = cw.ImageTextModel(*open_clip_vit)
    for bad, message in [("", "empty"), ("x" * (MAX_PROMPT_CHARACTERS + 1), "at most"), (["ok", 3], "list of strings")]:
        with pytest.raises(ValueError, match=message):
            clip.prompt_target(bad)
    with pytest.raises(TypeError, match="not an image–text model"):
        cw.ImageTextModel(torch.nn.Linear(2, 2), lambda t: t)
    with pytest.raises(ValueError, match="explain the model's image tower"):
        TextPromptTarget(torch.randn(3, 8))(torch.randn(5))


def test_the_towers_layers_are_suggested_and_explained(open_clip_vit):
    clip = cw.ImageTextModel(*open_clip_vit)
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    suggestion = suggest_layer(clip.image_tower, images[:1])
    assert suggestion.name.startswith("transformer.resblocks.11")
    targets = [clip.prompt_target(PROMPTS, 0), clip.prompt_target(PROMPTS, 2)]
    for method in ("gradcam", "layercam", "legrad", "gradientweightedattention"):
        maps = Explainer(clip.image_tower, [suggestion.name]).compute(method, images, targets)
        assert maps.shape == (2, 224, 224) and maps.std() > 0.02, method
    assert hook_count(clip.image_tower) == 0


def test_hugging_face_clip_through_its_tower_and_through_several_inputs():
    """The same GradCAM map from the image tower with a prompt target and from the whole CLIPModel given
    pixel_values and input_ids, explaining pixel_values for the prompt's logit."""
    model = _tiny_hugging_face_clip()
    clip = cw.ImageTextModel(model, _letters_tokenizer)
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    layer = "vision_model.encoder.layers.1"
    tower = Explainer(clip.image_tower, [layer]).compute(
        "gradcam", images, [clip.prompt_target(PROMPTS, 1, softmax=False)] * 2
    )
    tokens = _letters_tokenizer(PROMPTS)
    inputs = {"pixel_values": images, "input_ids": tokens["input_ids"][None].expand(2, -1, -1)}

    class PerImageTexts(torch.nn.Module):  # CLIPModel takes one set of texts for the batch: the rows share it
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, pixel_values, input_ids):
            return self.clip(pixel_values=pixel_values, input_ids=input_ids[0]).logits_per_image

    whole = Explainer(PerImageTexts(), [f"clip.{layer}"]).compute(
        "gradcam", inputs, [1, 1], explain_input="pixel_values"
    )
    torch.testing.assert_close(whole, tower, atol=1e-5, rtol=0)
    assert clip.similarities(images, PROMPTS).shape == (2, 3)


@pytest.mark.slow
def test_the_shapes_clip_finds_the_named_object():
    """On held-out scenes, GradCAM of 'a {colour} {shape}' peaks on that object (the tutorial measures it on more)."""
    from camwidgets.data.captions import make_captioned_scenes, phrase
    from camwidgets.data.shapes_clip import CLIP_LAYER

    model, tokenizer = cw.load_shapes_clip()
    clip = cw.ImageTextModel(model, tokenizer)
    scenes = make_captioned_scenes(12, seed=7)
    batch = cw.preprocess_image(np.zeros((224, 224, 3), np.float32))  # the ImageNet normalisation
    mean, std = (
        batch.new_tensor([0.485, 0.456, 0.406]).view(3, 1, 1),
        batch.new_tensor([0.229, 0.224, 0.225]).view(3, 1, 1),
    )
    images = (torch.from_numpy(scenes.images) - mean) / std
    hits = total = 0
    cam = cw.GradCAM(clip.image_tower, [CLIP_LAYER])
    for i, objects in enumerate(scenes.objects):
        for item in objects:
            maps = cam(images[i : i + 1], [clip.prompt_target(phrase(item, ("colour", "shape")))])
            peak = np.unravel_index(maps[0].argmax(), maps[0].shape)
            hits += bool(item.mask[peak])
            total += 1
    assert hits / total >= 0.8, (hits, total)
    with pytest.raises(ValueError, match="'purple' is not a word the shapes CLIP knows"):
        tokenizer(["a purple circle"])


@pytest.mark.slow
def test_the_layer_suggestion_on_a_resnet_tower_and_a_hugging_face_tower():
    open_clip = pytest.importorskip("open_clip")
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resnet = cw.ImageTextModel(
            open_clip.create_model("RN50", pretrained=None).eval(), open_clip.get_tokenizer("RN50")
        )
    images = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(4))
    name = suggest_layer(resnet.image_tower, images).name
    assert name.startswith("layer"), name  # a stage of the ResNet tower (its attention pool has no grid)
    maps = cw.GradCAM(resnet.image_tower, [name])(images, [resnet.prompt_target(PROMPTS, 1)])
    assert maps.shape == (1, 224, 224) and maps.std() > 0.01
    hugging_face = cw.ImageTextModel(_tiny_hugging_face_clip(), _letters_tokenizer)
    small = torch.randn(1, 3, 64, 64)
    assert suggest_layer(hugging_face.image_tower, small).name.startswith("vision_model.encoder.layers.1")
