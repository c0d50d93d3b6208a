"""explain_dataset on a model with several inputs: items whose image is a tuple or a dict of tensors, the
explained input's maps equal to the engine's on the whole inputs, the metrics through the bound model,
a layer that does not see the explained input refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from camwidgets.dataset import explain_dataset
from camwidgets.engine import Explainer
from camwidgets.explorer import DatasetExplorer
from tests.conftest import hook_count, seeded
from tests.engine.test_several_inputs import Siamese, TwoBranches

pytest.importorskip("zarr")


def _pairs(count: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(13)
    return torch.randn(count, 3, 16, 16, generator=generator), torch.randn(count, 1, 16, 16, generator=generator)


def test_tuple_items_give_the_explained_inputs_maps_and_metrics(tmp_path):
    model = seeded(TwoBranches)
    rgb, depth = _pairs()
    items = [((rgb[i], depth[i]), i % 3) for i in range(5)]
    results = explain_dataset(
        model, items, target_layers=["rgb.2"], metrics=("confidence", "drop", "deletion"), batch_size=2,
        progress=False, out=tmp_path / "run", display_size=16,
    )  # fmt: skip
    assert (results.table["error"] == "").all() and results.manifest["explain_input"] == 0
    with torch.no_grad():
        probabilities = torch.softmax(model(rgb, depth), dim=1)
    assert results.table["predicted"].tolist() == probabilities.argmax(1).tolist()
    np.testing.assert_allclose(results.table["confidence"], probabilities.max(1).values.numpy(), atol=1e-5)
    expected = Explainer(model, ["rgb.2"]).compute("gradcam", (rgb, depth), explain_input=0)
    stored = np.stack([results.map(i) for i in range(5)])
    np.testing.assert_allclose(
        stored, F.interpolate(expected[:, None], size=16, mode="area")[:, 0].numpy(), atol=1 / 255 + 1e-6
    )
    assert results.table["deletion"].notna().all() and results.table["drop"].notna().all()
    explorer = DatasetExplorer(results, model, data=items).open_in_explorer(2)  # one item of inputs, in the explorer
    assert explorer.session.several is not None and explorer.strips.other_inputs.item_keys == ["1"]
    np.testing.assert_allclose(explorer.result.maps[0], expected[2].numpy(), atol=1e-5)
    assert hook_count(model) == 0


def test_dict_items_explain_the_named_input_and_a_siamese_pair(tmp_path):
    model = seeded(NamedSiamese)
    first, second = torch.rand(4, 1, 16, 16), torch.rand(4, 1, 16, 16)
    items = [{"image": {"a": first[i], "b": second[i]}, "label": 1} for i in range(4)]
    results = explain_dataset(
        model, items, explain_input="b", target_layers=["inner.branch"], method="gradcam_elementwise", targets="label",
        batch_size=4, progress=False, out=tmp_path / "pair", display_size=16,
    )  # fmt: skip
    assert (results.table["error"] == "").all() and results.manifest["explain_input"] == "b"
    expected = Explainer(model, ["inner.branch"]).compute(
        "gradcam_elementwise", {"a": first, "b": second}, [1] * 4, explain_input="b"
    )
    np.testing.assert_allclose(np.stack([results.map(i) for i in range(4)]), expected.numpy(), atol=1 / 255 + 1e-6)
    with pytest.raises(ValueError, match="do not see input 'a'"):
        explain_dataset(TwoLayer(), [{"image": {"a": first[0], "b": second[0]}}], explain_input="a",
                        target_layers=["right"], progress=False, out=tmp_path / "blind")  # fmt: skip


class NamedSiamese(torch.nn.Module):
    """The siamese model called with keywords ``a`` and ``b``."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = Siamese()

    def forward(self, a, b):
        return self.inner(a, b)


class TwoLayer(torch.nn.Module):
    """Input ``a`` through ``left``, ``b`` through ``right``."""

    def __init__(self) -> None:
        super().__init__()
        self.left, self.right = torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, a, b):
        return (self.left(a).mean(dim=(2, 3)) + self.right(b).mean(dim=(2, 3))).softmax(dim=1)
