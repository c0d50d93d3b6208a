"""The model-zoo matrix: for every family users load, the suggested layer and its layout, GradCAM and
EigenCAM maps from ``target_layers=None`` that are not degenerate and equal the explicit
layer-plus-reshape call, the explorer on the classifiers and on torchvision's detectors and segmenters,
and no hook left behind.

Seeded random weights (no other weights exist offline), one image at 224 px, small configs.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import torch

import camwidgets as cw
from camwidgets.engine.suggest import suggest_layer

from ..conftest import hook_count
from ..zoo import CASES, NHWC, sample, sample_shape, seeded

pytest.importorskip("timm")
pytest.importorskip("transformers")
pytest.importorskip("ultralytics")


def image(size: int) -> torch.Tensor:
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(3))


#: The matrix's results, for the documentation's model table (docs/build.py reads them).
RESULTS_FILE = Path(__file__).resolve().parents[2] / "build" / "zoo-results.json"


@pytest.fixture(scope="module")
def zoo_results():
    """Rows of the models whose check passed; written in the matrix's order when the module ends."""
    rows: dict[str, dict] = {}
    yield rows
    if rows:
        RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
        ordered = [rows[name] for name in CASES if name in rows]
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        RESULTS_FILE.write_text(json.dumps({"when": stamp, "torch": torch.__version__, "rows": ordered}, indent=1))


def params():
    return [pytest.param(name, marks=[pytest.mark.slow] if case.slow else [], id=name) for name, case in CASES.items()]


@pytest.mark.parametrize("name", params())
def test_the_suggested_layer_is_right_and_its_maps_equal_the_explicit_call(name, zoo_results):
    case = CASES[name]
    model = case.build()
    x = sample(case)
    hooks = hook_count(model)
    suggestion = suggest_layer(model, x)
    assert (suggestion.name, suggestion.layout.value) == (case.layer, case.layout)
    layer, reshape = case.explicit
    targets = case.targets(model, x)
    for method in (cw.GradCAM, cw.EigenCAM):
        with pytest.warns(UserWarning, match=rf"explaining '{case.layer}' \({suggestion.layout.value}"):
            suggested = method(model, None)(x, targets)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the notice about where the scores were found
            explicit = method(model, [layer(model)], reshape_transform=reshape)(x, targets)
        assert suggested.shape == (1, *sample_shape(case)[1:])
        assert suggested.std() > 0.02, f"{method.__name__}: a degenerate map"
        if suggested.ndim >= 3:  # rows and columns of every frame or slice
            rows, columns = suggested[0].std(axis=-2).mean(), suggested[0].std(axis=-1).mean()
            assert min(rows, columns) > 0.02, f"{method.__name__}: stripes"
        np.testing.assert_allclose(suggested, explicit, atol=1e-4)
    assert hook_count(model) == hooks
    zoo_results[name] = {
        "name": name, "task": case.task, "layer": case.layer, "layout": case.layout,
        "outcome": "as the explicit call (within 1e-4), not constant, no stripes, no hook left",
    }  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [name for name, case in CASES.items() if case.task == "classification" and not case.slow and case.shape is None],
)
def test_the_explorer_builds_on_every_classifier(name):
    from camwidgets.explorer import CAMExplorer

    case = CASES[name]
    model = case.build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explorer = CAMExplorer(model, image(case.size))
    assert explorer.state.layers == (case.layer,) and explorer.overlay.error == ""
    assert explorer.result is not None and explorer.result.maps.std() > 0.02
    suggested = [node for node in explorer.tree.nodes if node["path"] == case.layer][0]
    assert suggested["layout"] == case.layout and suggested["reading"]
    assert case.layer in explorer.tree.reason
    if name.startswith("hf-"):  # a Hugging Face model's own class names
        assert explorer.session.labels == [model.config.id2label[index] for index in range(10)]


def test_a_channels_last_layer_picked_by_hand_is_laid_out_not_striped():
    import torchvision

    model = seeded(torchvision.models.swin_t)
    x = image(224)
    layer = model.features[-1][-1].norm1  # (B, 7, 7, 768)
    by_hand = cw.GradCAM(model, [layer], reshape_transform=NHWC)(x)
    assert np.abs(cw.GradCAM(model, [layer])(x) - by_hand).max() <= 1e-5
    assert by_hand.std() > 0.02


def test_a_shape_that_reads_both_ways_is_read_channels_first_with_a_warning_naming_the_permute():
    class Square(torch.nn.Module):  # (B, 8, 8, 8) at an 8x8 input
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.head = torch.nn.Linear(8, 4)

        def forward(self, x):
            return self.head(self.conv(x).mean(dim=(2, 3)))

    model = seeded(Square)
    with pytest.warns(UserWarning, match=r"reads as channels-first .* and as channels-last.*permute\(0, 3, 1, 2\)"):
        ambiguous = cw.GradCAM(model, [model.conv])(image(8))
    np.testing.assert_allclose(
        ambiguous, cw.GradCAM(model, [model.conv], reshape_transform=lambda t: t)(image(8)), atol=1e-6
    )


def test_attention_internals_and_detection_rows_are_refused_with_what_to_pick():
    model = CASES["timm-vit"].build()
    with pytest.raises(ValueError, match=r"\(1, 3, 197, 64\), heads .*not a grid.*norm1"):
        cw.GradCAM(model, [model.blocks[-1].attn.k_norm])(image(224))
    yolo = CASES["yolov8n"].build()
    with pytest.raises(ValueError, match=r"anchors .*not a grid"):
        cw.EigenCAM(yolo, [yolo.model[22].dfl])(image(224))


def test_ssd_levels_meet_on_a_grid_that_still_has_detail():
    model = CASES["tv-ssdlite"].build()
    x = image(224)
    with torch.no_grad():
        levels = model.backbone(model.transform(x)[0].tensors)
    assert min(level.shape[-1] for level in levels.values()) == 1  # the coarsest level: one position
    assert cw.fasterrcnn_reshape_transform(levels).shape[-2:] == (10, 10)
    maps = cw.EigenCAM(model, [model.backbone], reshape_transform=cw.fasterrcnn_reshape_transform)(x)
    assert maps.std() > 0.05  # not the constant a 1x1 grid gives


def test_hugging_face_models_need_no_selector_and_a_bad_output_says_what_to_pass():
    model = CASES["hf-vit"].build()
    with pytest.warns(UserWarning, match=r"holds its scores in output\['logits'\]"):
        maps = cw.GradCAM(model, ["vit.layers.1.layernorm_before"], reshape_transform=cw.vit_reshape_transform)(
            image(224)
        )
    assert maps.std() > 0.02

    class Features(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return {"features": self.conv(x)}

    with pytest.raises(ValueError, match="pass output_selector"):
        cw.GradCAM(Features(), None)(image(32))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        name
        for name, case in CASES.items()
        if case.task in ("detection", "segmentation") and not case.slow and name.startswith("tv-")
    ],
)
def test_the_explorer_builds_on_torchvision_detectors_and_segmenters(name):
    """The task is read from the output, the suggested layer (an FPN dict for most detectors) is
    selected with no reshape code, and the default target (every detection; each image's largest
    class) gives a map."""
    from camwidgets.explorer import CAMExplorer

    case = CASES[name]
    model = case.build()
    hooks = hook_count(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explorer = CAMExplorer(model, image(case.size), score_threshold=0.0)  # random heads score every box low
    assert explorer.session.task.name == case.task and explorer.state.layers == (case.layer,)
    assert explorer.overlay.error == "" and explorer.result.maps.std() > 0.02
    drawn = explorer.overlay.annotations
    assert (
        (len(drawn["boxes"]) > 0)
        if case.task == "detection"
        else (len(drawn["outlines"]) > 0 and drawn["draw"] == "region")
    )
    assert hook_count(model) == hooks
