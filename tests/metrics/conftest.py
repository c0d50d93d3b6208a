"""Fixtures for the metric tests: a seeded resnet18 at 64x64 and the pretrained mobilenet_v2 on the
bundled photos, each with GradCAM maps from camwidgets, and the reference's metrics modules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torchvision

import camwidgets as cw
from tests.conftest import import_reference, seeded


@dataclass
class Case:
    model: torch.nn.Module
    input_tensor: torch.Tensor
    targets: list
    cams: np.ndarray


@pytest.fixture(scope="session")
def resnet_case() -> Case:
    """Seeded resnet18, a (4, 3, 64, 64) random batch, logit targets, GradCAM maps of layer3."""
    model = seeded(torchvision.models.resnet18)
    batch = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    targets = [cw.ClassifierOutputTarget(category) for category in (1, 22, 333, 444)]
    cams = cw.GradCAM(model, ["layer3.1"])(batch, targets)
    return Case(model, batch, targets, cams)


@pytest.fixture(scope="session")
def mobilenet_case(pretrained_mobilenet, photo_batch) -> Case:
    """Pretrained mobilenet_v2, the four bundled photos, probability targets of each top class,
    GradCAM maps of the last conv stage."""
    model, _ = pretrained_mobilenet
    with torch.no_grad():
        top = model(photo_batch).argmax(dim=1).tolist()
    targets = [cw.ClassifierOutputSoftmaxTarget(category) for category in top]
    cams = cw.GradCAM(model, ["features.18"])(photo_batch, targets)
    return Case(model, photo_batch, targets, cams)


@pytest.fixture(scope="session")
def reference_metrics(reference):
    """The reference's metrics modules: ``road`` and ``cam_mult_image``."""
    return {name: import_reference(f"pytorch_grad_cam.metrics.{name}") for name in ("road", "cam_mult_image")}


@pytest.fixture
def noise_free_reference(reference_metrics, monkeypatch):
    """The reference's ROAD with imputation noise 0 (its classes build ``NoisyLinearImputer()`` with the default noise)."""
    road = reference_metrics["road"]
    monkeypatch.setattr(road.NoisyLinearImputer.__init__, "__defaults__", (0.0, road.neighbors_weights))
    return road


def scores_of(model, batch, targets) -> np.ndarray:
    with torch.no_grad():
        outputs = model(batch)
    return np.float32([target(row).item() for target, row in zip(targets, outputs)])
