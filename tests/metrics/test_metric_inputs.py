"""The metrics leave the model as they found it, accept maps as numpy or tensors, and explain
clearly what was wrong with bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import camwidgets as cw
from camwidgets.metrics import (
    CamMultImageConfidenceChange,
    DropInConfidence,
    ROADCombined,
    ROADLeastRelevantFirst,
    ROADMostRelevantFirst,
    ROADMostRelevantFirstAverage,
    average_drop,
    increase_in_confidence,
)
from tests.conftest import Small, assert_unchanged, mixed_state, seeded, snapshot
from tests.conftest import small_batch as batch  # noqa: F401  (a fixture, used by name)
from tests.conftest import small_model as model  # noqa: F401  (a fixture, used by name)

METRICS = {
    "CamMultImageConfidenceChange": lambda: CamMultImageConfidenceChange(),
    "DropInConfidence": lambda: DropInConfidence(),
    "ROADMostRelevantFirst": lambda: ROADMostRelevantFirst(70),
    "ROADMostRelevantFirstAverage": lambda: ROADMostRelevantFirstAverage([40, 80]),
    "ROADCombined": lambda: ROADCombined([50]),
    "average_drop": lambda: average_drop,
    "increase_in_confidence": lambda: increase_in_confidence,
}


@pytest.fixture
def cams():
    return np.float32(np.random.default_rng(0).random((3, 16, 16)))


TARGETS = [cw.ClassifierOutputSoftmaxTarget(c) for c in (0, 3, 4)]


@pytest.mark.parametrize("name", sorted(METRICS))
def test_model_left_as_found(model, batch, cams, name):
    mixed_state(model)
    before = snapshot(model)
    METRICS[name]()(batch, cams, TARGETS, model)
    assert_unchanged(model, before)


def test_model_left_as_found_after_an_error(model, batch, cams):
    mixed_state(model)
    before = snapshot(model)

    def broken(output):
        raise RuntimeError("target failed")

    for metric in (CamMultImageConfidenceChange(), ROADCombined([50])):
        with pytest.raises(RuntimeError, match="target failed"):
            metric(batch, cams, [broken] * 3, model)
    assert_unchanged(model, before)


def test_cams_as_numpy_or_tensor_agree(model, batch, cams):
    for metric in (CamMultImageConfidenceChange(), ROADLeastRelevantFirst(30, noise=0)):
        np.testing.assert_array_equal(
            metric(batch, cams, TARGETS, model), metric(batch, torch.from_numpy(cams), TARGETS, model)
        )


@pytest.mark.parametrize(
    "shape, message",
    [
        ((2, 16, 16), r"cams has shape \(2, 16, 16\).*shape \(3, 16, 16\)"),
        ((3, 8, 8), r"cams has shape \(3, 8, 8\).*the input's spatial size"),
        ((16, 16), r"add the batch axis: cams\[None\]"),
        ((3, 1, 16, 16), r"Drop the channel axis: cams\[:, 0\]"),
    ],
)
@pytest.mark.parametrize("metric", [CamMultImageConfidenceChange(), ROADMostRelevantFirst(), ROADCombined([50])])
def test_cams_shape_mismatch(model, batch, metric, shape, message):
    with pytest.raises(ValueError, match=message):
        metric(batch, np.zeros(shape, np.float32), TARGETS, model)


@pytest.mark.parametrize("metric", [CamMultImageConfidenceChange(), ROADLeastRelevantFirst(), ROADCombined([50])])
def test_targets_length_mismatch(model, batch, cams, metric):
    with pytest.raises(ValueError, match="got 2 targets for a batch of 3 images; pass one target per image"):
        metric(batch, cams, TARGETS[:2], model)


def test_other_bad_input(model, batch, cams):
    metric = CamMultImageConfidenceChange()
    with pytest.raises(TypeError, match="cams must be a numpy array or a torch tensor"):
        metric(batch, cams.tolist(), TARGETS, model)
    with pytest.raises(TypeError, match="floating point maps"):
        metric(batch, np.ones((3, 16, 16), np.uint8), TARGETS, model)
    with pytest.raises(ValueError, match="cams contains NaN"):
        metric(batch, np.full((3, 16, 16), np.nan, np.float32), TARGETS, model)
    with pytest.raises(TypeError, match="input_tensor must be a torch.Tensor"):
        metric(batch.numpy(), cams, TARGETS, model)
    with pytest.raises(TypeError, match="targets must be a list"):
        metric(batch, cams, TARGETS[0], model)
    with pytest.raises(ValueError, match=r"ROAD imputes 2-D images"):
        volume_model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 2))
        ROADMostRelevantFirst()(torch.zeros(1, 1, 4, 8, 8), np.zeros((1, 4, 8, 8), np.float32), None, volume_model)


def test_volumes_work_for_the_multiplied_image():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 6 * 6, 3))
    volume = torch.randn(2, 2, 4, 6, 6)
    change = CamMultImageConfidenceChange()(volume, np.ones((2, 4, 6, 6), np.float32), None, model)
    np.testing.assert_allclose(change, 0, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_everything_stays_on_the_device_and_agrees_with_cpu(model, batch, cams):
    cpu = ROADCombined([30, 70], noise=0)(batch, cams, TARGETS, model)
    gpu_model = seeded(Small).cuda()
    gpu = ROADCombined([30, 70], noise=0)(batch.cuda(), torch.from_numpy(cams).cuda(), TARGETS, gpu_model)
    np.testing.assert_allclose(gpu, cpu, atol=1e-4)
    scores, perturbed = ROADMostRelevantFirst(50)(batch, cams, TARGETS, gpu_model, return_visualization=True)
    assert perturbed.device.type == "cuda" and scores.shape == (3,)
