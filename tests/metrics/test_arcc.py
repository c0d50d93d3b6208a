"""ARCC / ADCC: parity with grad-cam 1.5.7's metrics.arcc (ROAD noise-free), the terms' ranges,
and the harmonic (not geometric) mean."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import camwidgets as cw
from camwidgets.metrics import ADCC, ARCC, AverageDropForADCC, Coherency, Complexity
from tests.conftest import import_reference

TOLERANCE = 1e-3

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def reference_arcc():
    return import_reference("pytorch_grad_cam.metrics.arcc")


def _theirs_gradcam(reference, model, layer):
    return reference.GradCAM(model=model, target_layers=[layer])


def test_complexity_matches_reference(reference_arcc, resnet_case):
    theirs = reference_arcc.Complexity()(resnet_case.cams)
    ours = Complexity()(resnet_case.cams)
    assert ours.dtype == np.float32 and ours.shape == (4,)
    assert np.abs(ours - theirs).max() <= 1e-6
    assert np.allclose(Complexity()(torch.ones(2, 5, 7)), 1) and np.allclose(Complexity()(np.zeros((2, 5, 7))), 0)


@pytest.mark.parity
def test_coherency_and_arcc_match_reference_on_resnet(reference, reference_arcc, noise_free_reference, resnet_case):
    case = resnet_case
    args = (case.input_tensor, case.cams, case.targets, case.model)
    theirs_cam = _theirs_gradcam(reference, case.model, case.model.layer3[1])
    ours_cam = cw.GradCAM(case.model, ["layer3.1"])
    theirs = reference_arcc.Coherency()(*args, theirs_cam)
    ours = Coherency()(*args, ours_cam)
    assert ours.dtype == np.float32 and ours.shape == (4,) and np.all((ours >= 0) & (ours <= 1))
    assert np.abs(ours - theirs).max() <= TOLERANCE
    theirs_arcc = reference_arcc.ARCC(theirs_cam, road_percentiles=[30, 70])(*args)
    ours_arcc = ARCC(ours_cam, road_percentiles=[30, 70], noise=0)(*args)
    assert ours_arcc.dtype == np.float32 and ours_arcc.shape == (4,)
    assert np.abs(ours_arcc - theirs_arcc).max() <= TOLERANCE


@pytest.mark.parity
def test_coherency_matches_reference_on_pretrained(reference, reference_arcc, mobilenet_case):
    """Coherency on the photos (ROAD's parity at this size is tested in test_road)."""
    case = mobilenet_case
    args = (case.input_tensor, case.cams, case.targets, case.model)
    theirs = reference_arcc.Coherency()(*args, _theirs_gradcam(reference, case.model, case.model.features[18]))
    ours = Coherency()(*args, cw.GradCAM(case.model, ["features.18"]))
    assert np.abs(ours - theirs).max() <= TOLERANCE


def test_arcc_is_the_harmonic_mean_of_its_terms(small_model, small_batch):
    cam = cw.GradCAM(small_model, ["head_conv"])
    args = (small_batch, cam(small_batch), None, small_model)
    arcc = ARCC(cam, road_percentiles=[50], noise=0)
    parts = arcc.components(*args)
    ours = arcc(*args)
    terms = np.stack([parts["coherency"], 1 - parts["complexity"], parts["road"]]).astype(np.float64)
    assert np.all((terms >= 0) & (terms <= 1))
    harmonic = 3 / (1 / (terms + 1e-8)).sum(axis=0)
    geometric = np.prod(terms, axis=0) ** (1 / 3)
    assert np.allclose(ours, harmonic, atol=1e-6)
    assert np.all(ours <= geometric + 1e-6)


def test_adcc_terms(resnet_case):
    case = resnet_case
    targets = [cw.ClassifierOutputSoftmaxTarget(t.category) for t in case.targets]
    args = (case.input_tensor, case.cams, targets, case.model)
    cam = cw.GradCAM(case.model, ["layer3.1"])
    adcc = ADCC(cam)
    parts = adcc.components(*args)
    drop = AverageDropForADCC()(*args)
    assert np.allclose(parts["average_drop"], drop) and np.all((drop >= 0) & (drop <= 1))
    # the batch mean of the per-image drop is the Grad-CAM++ Average Drop % / 100
    assert abs(float(drop.mean()) * 100 - cw.metrics.average_drop(*args)) <= 1e-3
    scores = adcc(*args)
    terms = np.stack([parts["coherency"], 1 - parts["complexity"], 1 - parts["average_drop"]]).astype(np.float64)
    assert np.allclose(scores, 3 / (1 / (terms + 1e-8)).sum(axis=0), atol=1e-6)
    assert np.all((scores >= 0) & (scores <= 1))
