"""Attention rollout, gradient-weighted attention and LeGrad: the papers' formulas transcribed by hand on a
tiny ViT, every supported transformer family, the model left as it was, clear refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import camwidgets as cw
from camwidgets.data.task_models import load_shapes_vit
from camwidgets.engine import Explainer
from camwidgets.engine.attention import attention_blocks, attention_modules
from camwidgets.engine.maps import finish_maps
from camwidgets.engine.methods import METHODS
from tests.conftest import Small, assert_unchanged, hook_count, seeded, snapshot, tiny_vit

ATTENTION_METHODS = [name for name, spec in METHODS.items() if spec.needs_attention]


@pytest.fixture(scope="module")
def vit() -> nn.Module:
    return seeded(tiny_vit)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))


def _by_hand(model: nn.Module, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """torchvision's ViT forward written out, keeping each block's attention (B, heads, N, N): (attentions, logits)."""
    tokens = model._process_input(x)
    h = torch.cat([model.class_token.expand(len(x), -1, -1), tokens], dim=1) + model.encoder.pos_embedding
    attentions = []
    for block in model.encoder.layers:
        mha = block.self_attention
        heads, width = mha.num_heads, h.shape[-1]
        q, k, v = F.linear(block.ln_1(h), mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (t.reshape(len(x), -1, heads, width // heads).transpose(1, 2) for t in (q, k, v))
        attention = torch.softmax(q @ k.transpose(-1, -2) / (width // heads) ** 0.5, dim=-1)
        attentions.append(attention)
        h = h + mha.out_proj((attention @ v).transpose(1, 2).reshape(len(x), -1, width))
        h = h + block.mlp(block.ln_2(h))
    return attentions, model.heads(model.encoder.ln(h)[:, 0])


def _finished(grids: list[torch.Tensor]) -> torch.Tensor:
    return finish_maps([torch.stack(grids)], (32, 32))


def test_rollout_is_the_papers_product_of_residual_attention(vit, images):
    with torch.no_grad():
        attentions, logits = _by_hand(vit, images)
        assert torch.allclose(logits, vit(images), atol=1e-5)  # the transcription is the model
    grids = []
    for b in range(len(images)):
        rollout = torch.eye(17)
        for attention in attentions:
            step = 0.5 * attention[b].mean(dim=0) + 0.5 * torch.eye(17)
            rollout = (step / step.sum(dim=1, keepdim=True)) @ rollout
        grids.append(rollout[0, 1:].reshape(4, 4))
    ours = Explainer(vit, ["encoder.layers"]).compute("attentionrollout", images)
    torch.testing.assert_close(ours, _finished(grids), atol=1e-5, rtol=0)
    assert ours.std() > 0.05


def test_gradient_weighted_attention_is_chefers_accumulation(vit, images):
    classes = [1, 3, 0]
    attentions, logits = _by_hand(vit, images)
    gradients = torch.autograd.grad(logits[range(3), classes].sum(), attentions)
    grids = []
    for b in range(len(images)):
        relevance = torch.eye(17)
        for attention, gradient in zip(attentions, gradients):
            weighted = (gradient[b] * attention[b]).clamp(min=0).mean(dim=0)
            relevance = relevance + weighted @ relevance
        grids.append(relevance[0, 1:].detach().reshape(4, 4))
    ours = Explainer(vit, ["encoder.layers"]).compute("gradientweightedattention", images, classes)
    torch.testing.assert_close(ours, _finished(grids), atol=1e-5, rtol=0)
    other = Explainer(vit, ["encoder.layers"]).compute("gradientweightedattention", images, [2, 2, 2])
    assert not torch.allclose(ours, other, atol=1e-3)  # class-specific


def test_legrad_differentiates_each_blocks_own_score(vit, images):
    """LeGrad by hand: block l's tokens scored by the head (torchcam's mean pooling), ∂s_l/∂A_l, ReLU, mean
    over heads and queries, the patch keys, averaged over blocks."""
    classes = [4, 0, 2]
    tokens = vit._process_input(images)
    h = torch.cat([vit.class_token.expand(3, -1, -1), tokens], dim=1) + vit.encoder.pos_embedding
    per_block = []
    for block in vit.encoder.layers:
        start = h.detach()
        mha = block.self_attention
        q, k, v = F.linear(block.ln_1(start), mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (t.reshape(3, 17, 2, 8).transpose(1, 2) for t in (q, k, v))
        attention = torch.softmax(q @ k.transpose(-1, -2) / 8**0.5, dim=-1)
        out = start + mha.out_proj((attention @ v).transpose(1, 2).reshape(3, 17, 16))
        out = out + block.mlp(block.ln_2(out))
        score = vit.heads(vit.encoder.ln(out.mean(dim=1)))[range(3), classes].sum()
        (gradient,) = torch.autograd.grad(score, attention)
        per_block.append(gradient.clamp(min=0).mean(dim=(1, 2))[:, 1:])
        h = out
    expected = finish_maps([torch.stack(per_block).mean(dim=0).reshape(3, 4, 4)], (32, 32))
    ours = Explainer(vit, ["encoder.layers"]).compute("legrad", images, classes)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)


def test_target_layers_choose_blocks(vit, images):
    blocks = attention_blocks(vit, [("encoder.layers.encoder_layer_1.ln_1", None)])
    assert [b.name for b in blocks] == ["encoder.layers.encoder_layer_1"]
    assert [b.name for b in attention_blocks(vit, [("encoder", None)])] == [
        "encoder.layers.encoder_layer_0",
        "encoder.layers.encoder_layer_1",
    ]
    first = Explainer(vit, ["encoder.layers.encoder_layer_0"]).compute("attentionrollout", images)
    both = Explainer(vit, ["encoder.layers.encoder_layer_1"]).compute("attentionrollout", images)
    assert not torch.allclose(first, both, atol=1e-3)  # rollout runs up to the chosen block
    with pytest.raises(ValueError, match="neither a transformer block nor inside one"):
        Explainer(vit, ["conv_proj"]).compute("legrad", images)


def _families() -> dict[str, tuple[nn.Module, list[str], dict]]:
    import open_clip
    import timm
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection, ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    small = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "image_size": 32,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clip = open_clip.create_model("ViT-B-32", pretrained=None)
    return {
        "timm vit, 4 register tokens": (
            timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=2, reg_tokens=4, num_classes=5),
            ["blocks"],
            {},
        ),
        "timm deit": (
            timm.create_model("deit_tiny_patch16_224", img_size=32, patch_size=8, depth=2, num_classes=5),
            ["blocks.1"],
            {},
        ),
        "hugging face vit": (
            ViTForImageClassification(ViTConfig(**small, patch_size=8, num_labels=5)),
            ["vit.layers"],
            {},
        ),
        "hugging face clip vision": (
            CLIPVisionModelWithProjection(CLIPVisionConfig(**small, patch_size=8, projection_dim=8)),
            ["vision_model.encoder.layers"],
            {"output_selector": lambda output: output.image_embeds},
        ),
        "open_clip vision": (clip.visual, ["transformer.resblocks.11"], {}),
        "shapes vit": (load_shapes_vit()[0], ["encoder.layers"], {}),
    }


@pytest.mark.slow
def test_every_transformer_family_gets_each_method_and_is_left_as_it_was():
    for family, (model, layers, keywords) in _families().items():
        model.eval()
        size = 224 if family == "open_clip vision" else 64 if family == "shapes vit" else 32
        x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(3))
        mixed = family == "shapes vit"
        if mixed:  # train mode, a frozen part and an existing .grad: all as they were afterwards
            model.train()
            model.conv_proj.requires_grad_(False)
            model.heads.head.weight.grad = torch.ones_like(model.heads.head.weight)
        before = snapshot(model)
        targets = [lambda output: output[0], lambda output: output[1]]
        for name in ATTENTION_METHODS:
            maps = Explainer(model, layers, **keywords).compute(name, x, targets)
            assert maps.shape == (2, size, size) and torch.isfinite(maps).all(), (family, name)
            assert maps.amax() > 0.99 and maps.std() > 0.02, (family, name)  # a map, not a constant
            assert_unchanged(model, before)
        if mixed:
            model.requires_grad_(True).eval()
            model.heads.head.weight.grad = None


def test_the_model_is_left_as_it_was_after_an_error(vit, images):
    model = seeded(tiny_vit)
    before = snapshot(model)

    def broken(output):
        raise RuntimeError("a target that fails")

    for name in ATTENTION_METHODS:
        if not METHODS[name].needs_gradients:
            continue
        with pytest.raises(RuntimeError, match="a target that fails"):
            Explainer(model, ["encoder.layers"]).compute(name, images, [broken] * 3)
        assert_unchanged(model, before)
    assert not [n for n, m in model.named_modules() if "forward" in m.__dict__]


def test_classes_take_the_usual_call_and_return_numpy(vit, images):
    cam = cw.LeGrad(vit, [vit.encoder.layers[-1]])
    maps = cam(input_tensor=images, targets=[cw.ClassifierOutputTarget(1)] * 3)
    assert isinstance(maps, np.ndarray) and maps.shape == (3, 32, 32) and maps.dtype == np.float32
    rollout = cw.AttentionRollout(vit, [vit.encoder], head_fusion="max", discard_ratio=0.5)
    assert rollout(images).shape == (3, 32, 32)
    with pytest.raises(ValueError, match="head_fusion"):
        cw.AttentionRollout(vit, [vit.encoder], head_fusion="median")
    assert hook_count(vit) == 0


def test_cnns_and_volumes_are_refused_with_the_way_out(images):
    model = seeded(Small)
    before = snapshot(model)
    for name in ATTENTION_METHODS:
        with pytest.raises(ValueError, match="has no attention.*pick a CAM method such as GradCAM"):
            Explainer(model, ["head_conv"]).compute(name, torch.randn(2, 3, 16, 16))
        assert_unchanged(model, before)
    with pytest.raises(ValueError, match="images \\(B, C, H, W\\) only"):
        Explainer(seeded(tiny_vit), ["encoder"]).compute("legrad", torch.randn(1, 3, 4, 32, 32))
    assert attention_modules(model) == []


def test_legrad_without_a_known_head_asks_for_a_score_projection(images):
    class Wrapped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = tiny_vit()

        def forward(self, x):
            return self.inner(x)

    model = seeded(Wrapped)
    with pytest.raises(ValueError, match="score_projection"):
        Explainer(model, ["inner.encoder.layers"]).compute("legrad", images)
    inner = model.inner
    maps = Explainer(model, ["inner.encoder.layers"]).compute(
        "legrad", images, options={"score_projection": lambda t: inner.heads(inner.encoder.ln(t.mean(dim=1)))}
    )
    torch.testing.assert_close(maps, Explainer(inner, ["encoder.layers"]).compute("legrad", images), atol=1e-6, rtol=0)


def test_before_is_restored(images):
    """Train mode with one part in eval, frozen parameters and an existing .grad, as for the CNNs."""
    model = seeded(tiny_vit)
    model.train()
    model.encoder.ln.eval()
    model.conv_proj.weight.requires_grad_(False)
    model.heads.head.weight.grad = torch.full_like(model.heads.head.weight, 7.0)
    before = snapshot(model)
    for name in ATTENTION_METHODS:
        Explainer(model, ["encoder.layers"]).compute(name, images)
        assert_unchanged(model, before)


def test_explain_dataset_and_the_tuner_take_the_attention_methods(tmp_path):
    from camwidgets.data.shapes import make_shapes, normalise
    from camwidgets.dataset import explain_dataset
    from camwidgets.metrics import rank_methods

    model, _ = load_shapes_vit()
    shapes = make_shapes(6, seed=3)
    x = normalise(shapes.images)
    for name in ATTENTION_METHODS:
        results = explain_dataset(
            model, list(zip(x, shapes.labels.tolist())), method=name, target_layers=["encoder.layers"],
            batch_size=4, progress=False, out=tmp_path / name,
        )  # fmt: skip
        assert len(results.table) == 6 and (results.table["error"] == "").all(), name
    table = rank_methods(model, x[:3], methods=["gradcam", *ATTENTION_METHODS], layers=["encoder.layers"])
    assert {row.method for row in table.rows} == {"gradcam", *ATTENTION_METHODS}
    assert hook_count(model) == 0


def test_rollouts_discard_ratio_drops_the_weakest_attention_but_the_class_tokens_own():
    from camwidgets.engine.methods.attention import rollout

    attention = torch.rand(1, 2, 5, 5, generator=torch.Generator().manual_seed(8)).softmax(dim=-1)
    attention[0, :, 0, 0] = 0.0  # the class token's attention to itself among the weakest
    fused = attention[0].amax(dim=0).flatten()
    dropped = fused.argsort()[: int(25 * 0.4)]
    kept = fused.clone()
    kept[dropped] = 0.0
    kept[0] = fused[0]
    step = 0.5 * kept.reshape(5, 5) + 0.5 * torch.eye(5)
    expected = step / step.sum(dim=1, keepdim=True)
    torch.testing.assert_close(rollout([attention], "max", 0.4)[0], expected)
