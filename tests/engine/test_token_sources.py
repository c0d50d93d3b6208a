"""Token sequences whose shape alone misleads, read from what the model declares: DETR's object
queries are never a grid, LeViT's 4x4 grid of 56-pixel cells is one, Hiera's stages are read in
its own order; and the layers offered are those that depend on the image (a CLIP wrapper's vision
tower, not its text tower). Seeded random weights, small configs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import camwidgets as cw
from camwidgets.engine.explainer import Explainer
from camwidgets.engine.reshape import Layout, tokens_to_grid
from camwidgets.engine.suggest import suggest_layer
from camwidgets.engine.token_sources import token_sources
from camwidgets.explorer.model_tree import probe_model_tree

from ..conftest import hook_count
from ..zoo import CASES, clip_wrapper, hf_detr, hf_dinov2_registers, rt_detr

pytest.importorskip("timm")
pytest.importorskip("transformers")


def image(size: int, batch: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(5))


def test_detr_queries_are_never_read_as_a_grid_even_when_their_count_is_a_square():
    model = hf_detr(queries=100)
    x = image(320)  # a 10x10 grid of 32-pixel cells: as many as the 100 queries
    assert token_sources(model).queries == {100}
    suggestion = suggest_layer(model, x)
    assert suggestion.name.startswith("model.encoder") and suggestion.description == "NLC: 10x10 patches"
    tree = probe_model_tree(model, x, suggestion.name)
    decoder = [node for node in tree.nodes if node.path.startswith("model.decoder.") and node.shape.startswith("100×")]
    assert decoder and all(not node.selectable for node in decoder)
    # those that depend on the image are refused as queries (the first self-attention's do not: it sees only the queries)
    assert all("object queries" in node.why or "does not depend on the image" in node.why for node in decoder)
    final = [node for node in decoder if node.path == "model.decoder.layernorm"][0]
    assert final.layout == Layout.QUERIES.value and "object queries" in final.why
    with pytest.raises(
        ValueError, match=r"'model.decoder.layernorm' outputs 100 object queries .*explain the backbone or the encoder"
    ):
        cw.GradCAM(model, [model.model.decoder.layernorm])(x, [lambda output: output[0].max()])
    assert hook_count(model) == 0


def test_levit_stages_are_explained_on_their_declared_grid_whatever_the_cell_size():
    model = CASES["timm-levit"].build()
    x = image(224)
    tree = {node.path: node for node in probe_model_tree(model, x, "").nodes}
    assert tree["stages.2"].selectable and tree["stages.2"].reading == "NLC: 4x4 patches"  # 56-pixel cells
    assert tree["stages.1"].reading == "NLC: 7x7 patches"
    maps = cw.GradCAM(model, [model.stages[2]])(x)
    np.testing.assert_allclose(
        maps, cw.GradCAM(model, [model.stages[2]], reshape_transform=lambda t: tokens_to_grid(t, 4, 4))(x), atol=1e-6
    )
    assert maps.std() > 0.02


def test_hiera_stages_are_read_in_hieras_own_token_order():
    model = CASES["timm-hiera"].build()
    x = image(224)
    rerolled = {}
    hooks = [
        model.blocks[i].register_forward_hook(
            lambda module, inputs, output, i=i: rerolled.__setitem__(i, model.reroll(output, i))
        )
        for i in (0, 2)
    ]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    for block in (0, 2):
        explainer = Explainer(model, [f"blocks.{block}"])
        result = explainer.capture(x)
        record = result.records[0]
        ours = explainer.spatial(record.activation, result, record.name)
        assert torch.allclose(ours, rerolled[block].permute(0, 3, 1, 2), atol=1e-6)
        raster = tokens_to_grid(record.activation, image_size=(224, 224))
        assert not torch.allclose(raster, ours), "raster order differs: read it so and the map is scrambled"
    maps = cw.GradCAM(model, [model.blocks[0]])(x)
    rows, columns = maps[0].std(axis=1).mean(), maps[0].std(axis=0).mean()
    assert min(rows, columns) > 0.02 and maps.std() > 0.02, "not column stripes"
    assert hook_count(model) == 0


def test_rt_detr_without_a_selector_gets_a_feature_level_and_a_class_index_is_not_taken_for_a_score():
    model = rt_detr()
    x = image(224)
    suggestion = suggest_layer(model, x)  # its rows end in a class index column; the reader finds the scores
    assert suggestion.name == "model.8.cv2" and "feature level" in suggestion.reason

    class ClassIndex(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x).mean(dim=(2, 3)).argmax(dim=1, keepdim=True).float() + 7

    with pytest.raises(ValueError, match=r"top output value \(\d+\) has no gradient: it is not a score"):
        suggest_layer(ClassIndex(), x)


def test_a_head_with_zero_weights_names_the_layer_to_pass_for_gradient_free_methods():
    import torchvision

    model = torchvision.models.VisionTransformer(224, 32, 2, 2, 32, 64, num_classes=4).eval()  # its head starts at zero
    with pytest.raises(
        ValueError, match=r"pass target_layers explicitly, for example the last spatial layer '.*'.*EigenCAM"
    ):
        suggest_layer(model, image(224))


def test_a_clip_wrapper_offers_only_its_vision_tower():
    from camwidgets.explorer import CAMExplorer

    model = clip_wrapper()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explorer = CAMExplorer(model, image(224, 2))
    offered = [node["path"] for node in explorer.tree.nodes if node["selectable"]]
    assert offered and all(path.startswith("clip.vision_model.") for path in offered)
    text = [
        node
        for node in explorer.tree.nodes
        if node["path"].startswith("clip.text_model.encoder.layers.") and not node["shape"].startswith("tuple")
    ]
    assert text and all("does not depend on the image" in node["why"] for node in text)
    assert explorer.state.layers[0].startswith("clip.vision_model.") and explorer.result.maps.std() > 0.01


def test_dinov2_with_registers_opens_in_the_embedding_explorer_past_its_register_tokens():
    from camwidgets.explorer import CAMExplorer

    model = hf_dinov2_registers()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explorer = CAMExplorer(model, image(224, 3))
    assert explorer.session.task.name == "embedding" and explorer.session.output_selector == "pooler_output"
    chosen = [node for node in explorer.tree.nodes if node["path"] == explorer.state.layers[0]][0]
    assert chosen["reading"] == "NLC: 5 prefix tokens + 16x16 patches"  # a class token and 4 registers
    explorer.set(concept=1)
    assert explorer.overlay.error == "" and explorer.result.maps.std() > 0.01
