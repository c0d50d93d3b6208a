"""Deep Feature Factorization: concepts from the NMF of a layer's activations.

``DeepFeatureFactorization`` and ``run_dff_on_image`` keep pytorch-grad-cam 1.5.x's names and
call signatures; the factorization itself is :func:`camwidgets.engine.factorization.deep_feature_factorization`,
multiplicative-update NMF in torch on the model's device (the reference uses scikit-learn's NMF
on the CPU).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine import (
    Explainer,
    ProgressOption,
    deep_feature_factorization,
    evaluation_mode,
    model_device,
    model_dtype,
    normalise_per_image,
    upsample,
)
from ..render.factorization import create_labels, show_factorization_on_image

__all__ = ["DeepFeatureFactorization", "run_dff_on_image", "dff"]


def dff(activations: np.ndarray, n_components: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The reference's NumPy entry point: :func:`~camwidgets.engine.factorization.deep_feature_factorization`
    of (B, C, h, w) activations, giving the concepts (C, K) and raw concept maps (B, K, h, w) as
    float32 arrays. The NMF is seeded (seed 0) but draws other random numbers than scikit-learn's,
    so the factors match the reference's in quality, not digit for digit."""
    concepts, maps = deep_feature_factorization(
        torch.as_tensor(np.asarray(activations, dtype=np.float32)), n_components
    )
    return concepts.numpy(), maps.numpy()


class DeepFeatureFactorization:
    r"""Deep Feature Factorization (https://arxiv.org/abs/1806.10206): the target layer's
    activations of all images, shifted per channel to be non-negative, are factored as
    ``V ≈ W H`` (channels x concepts, concepts x pixels) by NMF.

    ``dff(input_tensor, n_components=16)`` returns ``(concepts, explanations, concept_outputs)``,
    or ``(concepts, explanations)`` without ``computation_on_concepts`` (as the reference does):
    ``concepts`` (C, K) float32, each column a channel vector (``W`` plus the channel minima);
    ``explanations`` (B, K, H, W) float32, each concept's map per image, min-max scaled to [0, 1]
    and resized to the input; ``concept_outputs`` = ``computation_on_concepts(concepts.T)`` as an
    array (for example a classifier head scoring each concept, (K, classes)).
    numpy by default, tensors on the model's device with ``as_tensor=True``.

    Keyword-only: ``iterations``, ``tolerance`` and ``seed`` of the NMF, ``progress`` (None: a
    tqdm bar; False; or a callback ``(done, total, description)`` that may return False to cancel),
    ``as_tensor``. No hook outlives a call; ``computation_on_concepts`` runs without gradients, in
    eval mode (its own modes are restored).
    """

    def __init__(
        self,
        model: nn.Module,
        target_layer: nn.Module | str,
        reshape_transform: Callable | None = None,
        computation_on_concepts: Callable | None = None,
        *,
        iterations: int = 200,
        tolerance: float = 1e-4,
        seed: int = 0,
        progress: ProgressOption = None,
        as_tensor: bool = False,
    ) -> None:
        if isinstance(target_layer, (list, tuple)):
            raise TypeError("DeepFeatureFactorization takes one target_layer (a module or its name), not a list")
        if computation_on_concepts is not None and not callable(computation_on_concepts):
            raise TypeError(
                "computation_on_concepts must be callable (for example the model's classifier head) or None"
            )
        self.model = model
        self.computation_on_concepts = computation_on_concepts
        self.solver = {"iterations": iterations, "tolerance": tolerance, "seed": seed, "progress": progress}
        self.as_tensor = as_tensor
        self._explainer = Explainer(model, [target_layer], reshape_transform)

    def __call__(self, input_tensor: torch.Tensor, n_components: int = 16) -> tuple[Any, ...]:
        result = self._explainer.capture(input_tensor, None, need_gradients=False)
        record = result.records[0]
        if len(result.image_size) != 2:
            raise ValueError(
                f"DeepFeatureFactorization explains 2-D images (B, C, H, W); got input of shape {tuple(input_tensor.shape)}"
            )
        activations = self._explainer.spatial(record.activation, result, record.name)
        concepts, maps = deep_feature_factorization(activations.float(), n_components, **self.solver)
        batch, _, height, width = maps.shape
        scaled = normalise_per_image(maps.reshape(batch * n_components, height, width))
        explanations = upsample(scaled, result.image_size).reshape(batch, n_components, *result.image_size)
        outputs = self._concept_outputs(concepts)
        values = (concepts, explanations) if outputs is None else (concepts, explanations, outputs)
        if self.as_tensor:
            return values
        return tuple(value.detach().cpu().numpy().astype(np.float32, copy=False) for value in values)

    def _concept_outputs(self, concepts: torch.Tensor) -> torch.Tensor | None:
        """``computation_on_concepts(concepts.T)``: one row per concept, without gradients."""
        computation = self.computation_on_concepts
        if computation is None:
            return None
        embeddings = concepts.mT.contiguous()
        with torch.no_grad():
            if isinstance(computation, nn.Module):
                with evaluation_mode(computation):
                    outputs = computation(embeddings.to(model_device(computation), model_dtype(computation)))
            else:
                outputs = computation(embeddings)
        return torch.as_tensor(outputs).float()

    def release(self) -> None:
        """Nothing to release: hooks live only during a call. Kept for compatibility."""

    def __enter__(self) -> DeepFeatureFactorization:
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        self.release()


def _image_pair(img_pil: Any) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 image, float image in [0, 1]) from a PIL image or an RGB array (uint8 or float)."""
    array = np.asarray(img_pil)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(
            f"img_pil must be an RGB image (H, W, 3); got shape {array.shape}. For a PIL image use img.convert('RGB')."
        )
    if array.dtype == np.uint8:
        return array, array / 255
    return np.uint8(np.clip(array, 0, 1) * 255), array


def run_dff_on_image(
    model: nn.Module,
    target_layer: nn.Module | str,
    classifier: Callable,
    img_pil: Any,
    img_tensor: torch.Tensor,
    reshape_transform: Callable | None = None,
    n_components: int = 5,
    top_k: int = 2,
    *,
    labels: Sequence[str] | Mapping[int, str] | None = None,
) -> np.ndarray:
    """The photo next to its DFF concept overlay with a legend: a (H, 3W, 3) uint8 image.

    ``img_tensor`` (C, H, W) is the model input for ``img_pil`` (same size); each concept is
    named by its ``top_k`` classes under ``softmax(classifier(concept))``. ``labels`` (a list or
    dict of class names) defaults to ``model.config.id2label`` (HuggingFace models, as in the
    reference), else class indices are shown.
    """
    uint8_image, float_image = _image_pair(img_pil)
    if not isinstance(img_tensor, torch.Tensor) or img_tensor.ndim != 3:
        raise ValueError("img_tensor must be one image's (C, H, W) tensor, the model input for img_pil")
    if tuple(img_tensor.shape[1:]) != uint8_image.shape[:2]:
        raise ValueError(
            f"img_pil is {uint8_image.shape[1]}x{uint8_image.shape[0]} but img_tensor is {img_tensor.shape[2]}x{img_tensor.shape[1]}; "
            "pass the image the tensor was made from, resized the same way"
        )
    if labels is None:
        labels = getattr(getattr(model, "config", None), "id2label", None)
    dff = DeepFeatureFactorization(model, target_layer, reshape_transform, classifier, progress=False, as_tensor=True)
    _, explanations, outputs = dff(img_tensor[None], n_components)
    scores = torch.softmax(outputs.float(), dim=-1)
    legend = create_labels(scores, top_k, labels)
    overlay = show_factorization_on_image(
        float_image, explanations[0].cpu().numpy(), image_weight=0.3, concept_labels=legend
    )
    return np.hstack((uint8_image, overlay))
