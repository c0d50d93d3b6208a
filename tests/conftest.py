"""Shared fixtures: small seeded models, the pretrained mobilenet_v2 with bundled photos, and the
reference implementation (grad-cam 1.5.7, a test-only oracle: imported here, never by the package)."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn

REFERENCE_PROJECTION_MODULES = (
    "base_cam",
    "eigen_cam",
    "eigen_grad_cam",
    "hirescam",
    "grad_cam_elementwise",
    "layer_cam",
)


def import_reference(name: str = "pytorch_grad_cam"):
    """Import (part of) the reference. It is installed by `make install`; a missing one is an error, not a skip."""
    return importlib.import_module(name)


@contextlib.contextmanager
def reference_with_signed_projection() -> Iterator[object]:
    """The reference with its SVD projection's sign fixed by our rule (largest magnitude positive).

    The reference leaves the sign of the principal component to LAPACK; we make it deterministic.
    Patching only that sign lets the rest of the reference's pipeline serve as the oracle."""
    svd = import_reference("pytorch_grad_cam.utils.svd_on_activations")
    original = svd.get_2d_projection

    def signed(activation_batch):
        projection = original(activation_batch)
        flat = projection.reshape(len(projection), -1)
        flip = np.abs(flat.min(axis=1)) > np.abs(flat.max(axis=1))
        projection[flip] *= -1
        return projection

    modules = [import_reference(f"pytorch_grad_cam.{name}") for name in REFERENCE_PROJECTION_MODULES]
    saved = [module.get_2d_projection for module in modules]
    try:
        for module in modules:
            module.get_2d_projection = signed
        yield import_reference()
    finally:
        for module, function in zip(modules, saved):
            module.get_2d_projection = function


@pytest.fixture(scope="session")
def reference():
    with reference_with_signed_projection() as module:
        yield module


@pytest.fixture(scope="session")
def ref():
    """The reference's image utilities (pytorch_grad_cam.utils.image)."""
    return import_reference("pytorch_grad_cam.utils.image")


@pytest.fixture(scope="session")
def pretrained_mobilenet():
    from camwidgets.pretrained import load_model

    model, weights = load_model("mobilenet_v2", "IMAGENET1K_V1")
    return model, weights


def photo_tensor(name: str, size: int = 224) -> torch.Tensor:
    """A bundled photo, shorter side resized (OpenCV's area filter, bilinear when enlarging) and centre-cropped to ``size``,
    ImageNet-normalised (1, 3, size, size). The parity tests' inputs are fixed here, apart from the
    package's image pipeline, so that they stay the same inputs whatever that pipeline does: DFF's
    concept matching against scikit-learn's NMF (a non-convex problem) depends on the very pixels."""
    import cv2

    from camwidgets import load_photo, preprocess_image
    from camwidgets.core.images import IMAGENET_MEAN, IMAGENET_STD

    photo = load_photo(name)
    height, width = photo.shape[:2]
    scale = size / min(height, width)
    filter_ = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(
        photo, (max(size, round(width * scale)), max(size, round(height * scale))), interpolation=filter_
    )
    top, left = (resized.shape[0] - size) // 2, (resized.shape[1] - size) // 2
    crop = np.ascontiguousarray(resized[top : top + size, left : left + size])
    return preprocess_image(np.float32(crop) / 255, mean=IMAGENET_MEAN, std=IMAGENET_STD)


@pytest.fixture(scope="session")
def photo_batch() -> torch.Tensor:
    from camwidgets import photo_names

    return torch.cat([photo_tensor(name) for name in photo_names()])


def hook_count(model: nn.Module) -> int:
    """All module hooks of every kind registered on the model's modules."""
    total = 0
    for module in model.modules():
        for attribute in (
            "_forward_hooks",
            "_forward_pre_hooks",
            "_backward_hooks",
            "_backward_pre_hooks",
            "_forward_hooks_with_kwargs",
            "_forward_pre_hooks_with_kwargs",
        ):
            total += len(getattr(module, attribute, {}) or {})
    return total


class CountingForward:
    """Counts the model's forward passes with a pre-hook on the root module (removed on exit)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.count = 0

    def __enter__(self) -> CountingForward:
        self._handle = self.model.register_forward_pre_hook(self._increment)
        return self

    def _increment(self, module, inputs) -> None:
        self.count += 1

    def __exit__(self, *exc) -> None:
        self._handle.remove()


def seeded(factory, seed: int = 0, **kwargs) -> nn.Module:
    torch.manual_seed(seed)
    return factory(**kwargs).eval()


def tiny_vit(classes: int = 5) -> nn.Module:
    """torchvision's VisionTransformer at 32 px: 8 px patches (a 4 x 4 grid and a class token), 2 blocks of
    2 heads, width 16; its head drawn at random (torchvision starts it at zero, which no gradient survives)."""
    from torchvision.models.vision_transformer import VisionTransformer

    model = VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=classes
    )
    nn.init.normal_(model.heads.head.weight, std=0.5)
    return model


class Small(nn.Module):
    """conv -> BN -> ReLU(inplace) -> conv (target) -> ReLU(inplace) -> dropout -> pool -> linear."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True))
        self.head_conv = nn.Conv2d(8, 8, 3, padding=1)
        self.act = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        x = self.act(self.head_conv(self.stem(x)))
        return self.fc(self.drop(x).mean(dim=(2, 3)))


MARKUP = "<img src=x onerror=cwXss=1 class=cwxss>"
"""Markup whose image handler would set a global: in a label, a module name, an error or a path it
must reach the page as text. No '.' in it: module names cannot hold one."""


class MarkedUp(nn.Module):
    """conv stem -> conv named ``MARKUP`` (the target) -> pool -> linear, three classes."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.add_module(MARKUP, nn.Conv2d(8, 8, 3, padding=1))
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(getattr(self, MARKUP)(self.stem(x)).relu().mean(dim=(2, 3)))


@pytest.fixture
def small_model() -> Small:
    return seeded(Small)


@pytest.fixture
def small_batch() -> torch.Tensor:
    return torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(2))


def snapshot(model: nn.Module) -> dict:
    return {
        "hooks": hook_count(model),
        "modes": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "grad_enabled": torch.is_grad_enabled(),
        "attention": [
            (
                "forward" in m.__dict__,
                getattr(m, "fused_attn", None),
                getattr(getattr(m, "config", None), "_attn_implementation", None),
            )
            for m in model.modules()
        ],
    }


def assert_unchanged(model: nn.Module, before: dict) -> None:
    after = snapshot(model)
    assert after["hooks"] == before["hooks"] == 0, "hooks left behind"
    assert after["modes"] == before["modes"], "train/eval modes changed"
    assert after["requires_grad"] == before["requires_grad"], "requires_grad flags changed"
    for old, new in zip(before["grads"], after["grads"]):
        assert (old is None and new is None) or torch.equal(old, new), ".grad changed"
    for key, value in before["state"].items():
        assert torch.equal(value, after["state"][key]), f"{key} changed"
    assert after["grad_enabled"] == before["grad_enabled"], "grad mode changed"
    assert after["attention"] == before["attention"], "an attention module's forward or fused path changed"


def mixed_state(model: nn.Module) -> None:
    """Train mode with one submodule in eval, some frozen parameters, some existing .grad."""
    model.train()
    model.stem[1].eval()
    model.stem[0].weight.requires_grad_(False)
    model.fc.weight.grad = torch.full_like(model.fc.weight, 7.0)


@pytest.fixture(autouse=True)
def _fresh_output_notices():
    """Each test sees the once-per-process notice about where a model's scores were found."""
    from camwidgets.engine import modules

    modules._TOLD.clear()
    yield


def pytest_collection_modifyitems(config, items):
    """The documentation site's tests run last: the site is built from what the run before them
    leaves (the executed tutorials, the model-zoo matrix's results)."""
    items.sort(key=lambda item: item.get_closest_marker("docs_site") is not None)
