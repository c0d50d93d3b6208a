"""The explorer on a model with several inputs: the explained input with its map, the other inputs beside
it, every map equal to the engine's on the same inputs (also an image shown alone, a slow method, a sweep)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from camwidgets import CAMExplorer
from camwidgets.engine import Explainer
from tests.conftest import assert_unchanged, seeded, snapshot
from tests.engine.test_several_inputs import TwoBranches


@pytest.fixture(scope="module")
def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(9)
    return torch.randn(3, 3, 32, 32, generator=generator), torch.randn(3, 1, 32, 32, generator=generator)


def engine_maps(model, inputs, method: str, targets, key=0) -> np.ndarray:
    maps = Explainer(model, ["rgb.2"]).compute(method, inputs, targets, explain_input=key, progress=False)
    return maps.numpy()


def test_the_explained_input_is_shown_with_its_map_and_the_others_beside_it(inputs):
    model = seeded(TwoBranches)
    before = snapshot(model)
    explorer = CAMExplorer(model, inputs, explain_input=0, target_layers=["rgb.2"])
    with torch.no_grad():
        top = model(*inputs).argmax(1).tolist()
    np.testing.assert_allclose(explorer.result.maps, engine_maps(model, inputs, "gradcam", top), atol=1e-5)
    assert explorer.strips.other_inputs.visible and explorer.strips.other_inputs.item_keys == ["1"]
    assert explorer.strips.other_inputs.captions == ["input 1"]
    assert "guided" not in explorer.panels and "compare" in explorer.panels
    explorer.set(image=2, target=1, method="layercam")
    np.testing.assert_allclose(explorer.result.maps, engine_maps(model, inputs, "layercam", [1, 1, 1]), atol=1e-5)
    explorer.set(method="scorecam")  # a slow method: the image shown first, alone, in the background
    explorer.wait()
    assert not explorer.overlay.error
    np.testing.assert_allclose(explorer.result.maps, engine_maps(model, inputs, "scorecam", [1, 1, 1]), atol=1e-5)
    paths, levels = explorer.session.sweep(explorer.state)  # one image's sweep through the bound model
    assert "rgb.2" in paths and levels.shape[0] == len(paths)
    assert_unchanged(model, before)


def test_items_that_are_dicts_and_a_wrong_input_name(inputs):
    model = seeded(TwoBranches)
    rgb, depth = inputs

    class Named(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, image, depth):
            return self.inner(image, depth)

    named = Named()
    items = [{"image": rgb[i], "depth": depth[i]} for i in range(3)]
    explorer = CAMExplorer(named, items, explain_input="image", target_layers=["inner.rgb.2"])
    expected = Explainer(named, ["inner.rgb.2"]).compute(
        "gradcam", {"image": rgb, "depth": depth}, explain_input="image"
    )
    np.testing.assert_allclose(explorer.result.maps, expected.numpy(), atol=1e-5)
    assert explorer.strips.other_inputs.item_keys == ["depth"]
    with pytest.raises(ValueError, match="explain_input='rgb' is not one of the inputs"):
        CAMExplorer(named, items, explain_input="rgb")
