"""Confidence change when the image is multiplied by its map: parity with grad-cam 1.5.7, known
answers, and the batch averages of the Grad-CAM++ paper."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import camwidgets as cw
from camwidgets.metrics import (
    CamMultImageConfidenceChange,
    DropInConfidence,
    IncreaseInConfidence,
    average_drop,
    increase_in_confidence,
)
from tests.metrics.conftest import scores_of

TOLERANCE = 1e-3
METRICS = ["CamMultImageConfidenceChange", "DropInConfidence", "IncreaseInConfidence"]
CLASSES = {
    "CamMultImageConfidenceChange": CamMultImageConfidenceChange,
    "DropInConfidence": DropInConfidence,
    "IncreaseInConfidence": IncreaseInConfidence,
}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parity
@pytest.mark.parametrize("case_name", ["resnet_case", "mobilenet_case"])
@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("return_diff", [True, False])
def test_matches_reference(request, reference_metrics, case_name, name, return_diff):
    case = request.getfixturevalue(case_name)
    reference_metric = getattr(reference_metrics["cam_mult_image"], name)()
    theirs = reference_metric(case.input_tensor, case.cams, case.targets, case.model, return_diff=return_diff)
    ours = CLASSES[name]()(case.input_tensor, case.cams, case.targets, case.model, return_diff=return_diff)
    assert type(ours) is np.ndarray and ours.dtype == np.float32 and ours.shape == theirs.shape == (4,)
    assert np.abs(ours - theirs).max() <= TOLERANCE


@pytest.mark.parity
def test_visualization_matches_reference(reference_metrics, resnet_case):
    case = resnet_case
    theirs, their_batch = reference_metrics["cam_mult_image"].CamMultImageConfidenceChange()(
        case.input_tensor, case.cams, case.targets, case.model, return_visualization=True
    )
    ours, our_batch = CamMultImageConfidenceChange()(
        case.input_tensor, torch.from_numpy(case.cams), case.targets, case.model, return_visualization=True
    )
    assert isinstance(our_batch, torch.Tensor) and our_batch.shape == case.input_tensor.shape
    torch.testing.assert_close(our_batch, their_batch)
    assert np.abs(ours - theirs).max() <= TOLERANCE


@pytest.mark.parametrize("name", ["DropInConfidence", "IncreaseInConfidence"])
def test_visualization_with_the_summarised_metrics(resnet_case, name):
    """The reference's DropInConfidence/IncreaseInConfidence fail with return_visualization=True; ours return both."""
    case = resnet_case
    scores, perturbed = CLASSES[name]()(
        case.input_tensor, case.cams, case.targets, case.model, return_visualization=True
    )
    assert scores.shape == (4,) and perturbed.shape == case.input_tensor.shape
    np.testing.assert_array_equal(scores, CLASSES[name]()(case.input_tensor, case.cams, case.targets, case.model))


def test_map_of_ones_leaves_the_scores_unchanged(mobilenet_case):
    case = mobilenet_case
    ones = np.ones_like(case.cams)
    change = CamMultImageConfidenceChange()(case.input_tensor, ones, case.targets, case.model)
    np.testing.assert_allclose(change, 0, atol=1e-6)
    assert DropInConfidence()(case.input_tensor, ones, case.targets, case.model).max() <= 1e-6
    assert average_drop(case.input_tensor, ones, case.targets, case.model) <= 1e-4


def test_map_of_zeros_gives_the_score_of_a_zero_input(resnet_case):
    case = resnet_case
    after = CamMultImageConfidenceChange()(
        case.input_tensor, np.zeros_like(case.cams), case.targets, case.model, return_diff=False
    )
    expected = scores_of(case.model, torch.zeros_like(case.input_tensor), case.targets)
    np.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-5)
    change = CamMultImageConfidenceChange()(case.input_tensor, np.zeros_like(case.cams), case.targets, case.model)
    np.testing.assert_allclose(
        change, expected - scores_of(case.model, case.input_tensor, case.targets), rtol=1e-5, atol=1e-5
    )


def test_summaries_follow_from_the_change(resnet_case):
    case = resnet_case
    change = CamMultImageConfidenceChange()(case.input_tensor, case.cams, case.targets, case.model)
    np.testing.assert_array_equal(
        DropInConfidence()(case.input_tensor, case.cams, case.targets, case.model), np.maximum(-change, 0)
    )
    np.testing.assert_array_equal(
        IncreaseInConfidence()(case.input_tensor, case.cams, case.targets, case.model), np.float32(change > 0)
    )


@pytest.mark.parity
def test_paper_averages_from_reference_scores(reference_metrics, mobilenet_case):
    """Average Drop % and Increase in Confidence % (Grad-CAM++), from the reference's per-image scores."""
    case = mobilenet_case
    reference_metric = reference_metrics["cam_mult_image"].CamMultImageConfidenceChange()
    after = reference_metric(case.input_tensor, case.cams, case.targets, case.model, return_diff=False)
    before = scores_of(case.model, case.input_tensor, case.targets)
    expected_drop = 100 * np.mean(np.maximum(0, before - after) / before)
    expected_increase = 100 * np.mean(after > before)
    assert abs(average_drop(case.input_tensor, case.cams, case.targets, case.model) - expected_drop) <= TOLERANCE
    assert increase_in_confidence(case.input_tensor, case.cams, case.targets, case.model) == pytest.approx(
        expected_increase
    )
    assert isinstance(average_drop(case.input_tensor, case.cams, case.targets, case.model), float)


def test_average_drop_needs_positive_scores(resnet_case):
    case = resnet_case
    negative = [_Negative()] * 4
    with pytest.raises(ValueError, match="must be positive.*ClassifierOutputSoftmaxTarget"):
        average_drop(case.input_tensor, case.cams, negative, case.model)


class _Negative:
    def __call__(self, output):
        return -output.abs().sum() - 1


def test_targets_none_uses_each_top_class(mobilenet_case):
    case = mobilenet_case
    with torch.no_grad():
        top = case.model(case.input_tensor).argmax(dim=1).tolist()
    explicit = CamMultImageConfidenceChange()(
        case.input_tensor, case.cams, [cw.ClassifierOutputTarget(c) for c in top], case.model
    )
    np.testing.assert_array_equal(
        CamMultImageConfidenceChange()(case.input_tensor, case.cams, None, case.model), explicit
    )


class _FlattensWithView(torch.nn.Module):
    """conv -> ``x.view(B, -1)`` -> linear: ``view`` fails on a channels-last tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        return self.fc(self.conv(x).view(x.shape[0], -1))


def test_models_that_reject_channels_last_get_the_contiguous_batch():
    torch.manual_seed(0)
    model = _FlattensWithView().eval()
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(RuntimeError):
        model(x.contiguous(memory_format=torch.channels_last))
    cams = np.random.default_rng(0).random((2, 8, 8)).astype(np.float32)
    targets = [cw.ClassifierOutputTarget(1), cw.ClassifierOutputTarget(3)]
    with torch.no_grad():
        before = model(x)[[0, 1], [1, 3]]
        after = model(x * torch.from_numpy(cams)[:, None])[[0, 1], [1, 3]]
    result = CamMultImageConfidenceChange()(x, cams, targets, model)
    np.testing.assert_allclose(result, (after - before).numpy(), atol=1e-6)
