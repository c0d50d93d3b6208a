"""Models with several inputs: tuples and dicts of tensors, the explained input's maps, known answers from
two-branch and siamese models, every method equal to the same model with its other inputs bound."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import camwidgets as cw
from camwidgets.engine import Explainer
from camwidgets.engine.methods import METHODS
from tests.conftest import assert_unchanged, hook_count, seeded, snapshot


class TwoBranches(nn.Module):
    """An RGB branch and a depth branch, pooled and concatenated into a linear head; ``depth_used=False``
    computes the depth branch but never lets it reach the scores."""

    def __init__(self, depth_used: bool = True) -> None:
        super().__init__()
        self.rgb = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 8, 3, padding=1), nn.ReLU())
        self.depth = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(16, 3)
        self.depth_used = depth_used
        self.unused = None

    def forward(self, rgb: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        a = self.rgb(rgb).mean(dim=(2, 3))
        b = self.depth(depth).mean(dim=(2, 3))
        self.unused = None if self.depth_used else b
        return self.head(torch.cat([a, b if self.depth_used else torch.zeros_like(b)], dim=1))


class Named(TwoBranches):
    """The same, called with keywords: ``model(image=..., depth=..., scale=...)``; ``scale`` is a number per image."""

    def forward(self, image: torch.Tensor, depth: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(image, depth) * scale[:, None]


class Siamese(nn.Module):
    """One branch for both images (shared weights); the score of class 0 is the two embeddings' difference."""

    def __init__(self) -> None:
        super().__init__()
        self.branch = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.ReLU())
        nn.init.constant_(self.branch[0].weight, 1.0)

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        a, b = self.branch(first).mean(dim=(1, 2, 3)), self.branch(second).mean(dim=(1, 2, 3))
        return torch.stack([a - b, b - a], dim=1)


class Bound(nn.Module):
    """``model`` with every input but the first bound to one image's: the single-input model the engine must agree with."""

    def __init__(self, model: nn.Module, *others: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.others = others

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, *(o.expand(len(x), *o.shape[1:]) for o in self.others))


def _pair(batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    return torch.randn(batch, 3, 16, 16, generator=generator), torch.randn(batch, 1, 16, 16, generator=generator)


def test_each_input_gets_its_own_maps_through_the_layers_that_see_it():
    model = seeded(TwoBranches)
    rgb, depth = _pair()
    before = snapshot(model)
    maps = Explainer(model, ["rgb.2", "depth.2"]).compute("gradcam", (rgb, depth), [0, 1])
    assert set(maps) == {0, 1} and maps[0].shape == (2, 16, 16) and maps[1].shape == (2, 16, 16)
    alone = Explainer(Bound(model, depth), ["model.rgb.2"]).compute("gradcam", rgb, [0, 1])
    torch.testing.assert_close(maps[0], alone, atol=1e-6, rtol=0)  # only the RGB layer sees the RGB input
    only_depth = Explainer(model, ["rgb.2", "depth.2"]).compute("gradcam", (rgb, depth), [0, 1], explain_input=1)
    torch.testing.assert_close(only_depth, maps[1], atol=1e-6, rtol=0)
    assert_unchanged(model, before)


def test_a_branch_that_never_reaches_the_score_is_zero_and_said_so():
    model = seeded(TwoBranches, depth_used=False)
    rgb, depth = _pair()
    with pytest.warns(UserWarning, match="do not depend on input 1 .*its maps are zero"):
        maps = cw.GradCAM(model, [model.rgb[2], model.depth[2]])((rgb, depth), [cw.ClassifierOutputTarget(2)] * 2)
    assert np.abs(maps[1]).max() == 0 and maps[0].std() > 0.05
    assert hook_count(model) == 0


def test_keyword_inputs_and_inputs_that_are_not_images():
    model = seeded(Named)
    rgb, depth = _pair()
    inputs = {"image": rgb, "depth": depth, "scale": torch.tensor([1.0, 2.0])}
    cam = cw.LayerCAM(model, [model.rgb[2], model.depth[2]])
    maps = cam(inputs, explain_input="image")
    assert maps.shape == (2, 16, 16) and cam.outputs.shape == (2, 3)
    assert set(cam(inputs)) == {"image", "depth"}  # "scale" (B,) is no image
    with pytest.raises(ValueError, match="'scale' .* is not image-like"):
        cam(inputs, explain_input="scale")
    with pytest.raises(
        ValueError, match="explain_input='rgb' is not one of the inputs; they are 'image', 'depth', 'scale'"
    ):
        cam(inputs, explain_input="rgb")
    with pytest.raises(ValueError, match="batches must be equal.*'image': 2, 'depth': 3"):
        cam({"image": rgb, "depth": torch.randn(3, 1, 16, 16), "scale": torch.ones(2)})
    with pytest.raises(ValueError, match="pass target_layers"):
        Explainer(model).compute("gradcam", inputs)
    with pytest.raises(ValueError, match="none of the target layers .* sees input 'depth'"):
        cw.GradCAM(model, [model.rgb[2]])(inputs, explain_input="depth")
    assert hook_count(model) == 0


def test_a_siamese_branch_is_read_on_each_inputs_own_pass():
    """A bright square in each image: the first image's map peaks on its square, the second's on its own."""
    model = seeded(Siamese)
    first, second = torch.zeros(1, 1, 16, 16), torch.zeros(1, 1, 16, 16)
    first[..., 2:6, 2:6] = 1.0
    second[..., 10:14, 9:13] = 1.0
    maps = cw.GradCAMElementWise(model, [model.branch])((first, second), [cw.ClassifierOutputTarget(0)])
    assert maps[0][0, 2:6, 2:6].min() > 0.9 and maps[0][0, 10:14, 9:13].max() < 0.1
    maps = cw.GradCAMElementWise(model, [model.branch])((first, second), [cw.ClassifierOutputTarget(1)])
    assert maps[1][0, 10:14, 9:13].min() > 0.9 and maps[1][0, 2:6, 2:6].max() < 0.1
    assert hook_count(model) == 0


@pytest.mark.slow
def test_every_method_equals_the_model_with_its_other_inputs_bound():
    """Single-capture, gradient, perturbation and wrapper methods, with aug_smooth: the other input's rows
    follow each perturbed or augmented copy of the explained one (compared image by image, each with its
    own depth bound; the methods drawing noise for the whole batch, on a batch whose depth rows are one image's)."""
    model = seeded(TwoBranches)
    rgb, depth = _pair()
    classes = [0, 2]
    failures = {}
    for name, spec in METHODS.items():
        if spec.needs_attention:
            continue
        layers = ["rgb.0", "rgb.2"] if name == "refinecam" else ["rgb.2"]
        options = {"batch_size": 4} if "batch_size" in spec.options else {}
        options |= {"seed": 3} if "seed" in spec.options else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for aug_smooth in (False, True) if name in ("gradcam", "scorecam") else (False,):
                ours = Explainer(model, layers).compute(
                    name, (rgb, depth), classes, explain_input=0, aug_smooth=aug_smooth, options=options, progress=False
                )
                names = [f"model.{layer}" for layer in layers]
                if "seed" in options:
                    ours = Explainer(model, layers).compute(
                        name, (rgb, depth[:1].expand_as(depth)), classes, explain_input=0, options=options
                    )
                    theirs = Explainer(Bound(model, depth[:1]), names).compute(name, rgb, classes, options=options)
                else:
                    theirs = torch.cat([
                        Explainer(Bound(model, depth[i : i + 1]), names).compute(
                            name, rgb[i : i + 1], classes[i : i + 1], aug_smooth=aug_smooth, options=options, progress=False
                        )
                        for i in range(len(rgb))
                    ])  # fmt: skip
                if not torch.allclose(ours, theirs, atol=1e-5):
                    failures[(name, aug_smooth)] = float((ours - theirs).abs().max())
    assert failures == {}
    assert hook_count(model) == 0


def test_the_model_is_left_as_it_was_after_an_error():
    model = seeded(TwoBranches)
    rgb, depth = _pair()
    before = snapshot(model)

    def broken(output):
        raise RuntimeError("a failing target")

    for method in ("gradcam", "scorecam"):
        with pytest.raises(RuntimeError, match="a failing target"):
            Explainer(model, ["rgb.2"]).compute(method, (rgb, depth), [broken, broken], explain_input=0, progress=False)
        assert_unchanged(model, before)
    with pytest.raises(ValueError, match="single tensor"):
        Explainer(model, ["rgb.2"]).compute("gradcam", rgb, explain_input=0)


def test_metrics_score_the_explained_input_with_the_others_beside_it():
    """Confidence change, ROAD and the deletion curve inside ``explaining_input`` equal the same metrics on
    the model with the other input bound, image by image."""
    from camwidgets.metrics import CamMultImageConfidenceChange, ROADMostRelevantFirst, deletion_curve

    model = seeded(TwoBranches)
    rgb, depth = _pair()
    maps = cw.GradCAM(model, [model.rgb[2]])((rgb, depth), [cw.ClassifierOutputTarget(1)] * 2, explain_input=0)
    targets = [cw.ClassifierOutputTarget(1)] * 2
    metrics = {
        "confidence": lambda x, m, t, net: CamMultImageConfidenceChange()(x, m, t, net),
        "road": lambda x, m, t, net: ROADMostRelevantFirst(percentile=50)(x, m, t, net),
        "deletion": lambda x, m, t, net: deletion_curve(x, m, t, net, steps=4, batch_size=3).scores,
    }
    for name, metric in metrics.items():
        with cw.explaining_input(model, (rgb, depth), 0) as x:
            ours = metric(x, maps, targets, model)
        theirs = np.concatenate(
            [metric(rgb[i : i + 1], maps[i : i + 1], targets[:1], Bound(model, depth[i : i + 1])) for i in range(2)]
        )
        # ROAD's imputation solves one sparse system per batch: a batch of two and two of one differ by ~6e-5
        np.testing.assert_allclose(ours, theirs, atol=2e-4 if name == "road" else 1e-5, err_msg=name)
    assert hook_count(model) == 0
