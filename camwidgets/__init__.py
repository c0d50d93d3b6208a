"""camwidgets: class activation maps for PyTorch vision models, fast and batched, with notebook widgets.

Everything public is importable from here; heavy modules load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .compat import dropin
from .core import __version__  # noqa: F401  (the package version, one place)

_EXPORTS: dict[str, str] = {
    # CAM classes (pytorch-grad-cam names)
    "BaseCAM": "camwidgets.cams",
    "GradCAM": "camwidgets.cams",
    "HiResCAM": "camwidgets.cams",
    "GradCAMElementWise": "camwidgets.cams",
    "GradCAMPlusPlus": "camwidgets.cams",
    "XGradCAM": "camwidgets.cams",
    "LayerCAM": "camwidgets.cams",
    "EigenCAM": "camwidgets.cams",
    "EigenGradCAM": "camwidgets.cams",
    "compute_cams": "camwidgets.cams",
    "ScoreCAM": "camwidgets.cams",
    "SSCAM": "camwidgets.cams",
    "ISCAM": "camwidgets.cams",
    "AblationCAM": "camwidgets.cams",
    "AblationLayer": "camwidgets.cams",
    "AblationLayerVit": "camwidgets.cams",
    "AblationLayerFasterRCNN": "camwidgets.cams",
    "FullGrad": "camwidgets.cams",
    "FEM": "camwidgets.cams",
    "KPCA_CAM": "camwidgets.cams",
    "ShapleyCAM": "camwidgets.cams",
    "RandomCAM": "camwidgets.cams",
    "SegEigenCAM": "camwidgets.cams",
    "FinerCAM": "camwidgets.cams",
    "RefineCAM": "camwidgets.cams",
    "SESS": "camwidgets.cams",
    "SmoothGradCAMpp": "camwidgets.cams",
    "AttentionRollout": "camwidgets.cams",
    "GradientWeightedAttention": "camwidgets.cams",
    "LeGrad": "camwidgets.cams",
    "DeepFeatureFactorization": "camwidgets.cams",
    "run_dff_on_image": "camwidgets.cams",
    "GuidedBackpropReLUModel": "camwidgets.engine.guided",
    "GuidedBackpropReLU": "camwidgets.engine.guided",
    "GuidedBackpropReLUasModule": "camwidgets.engine.guided",
    "dff": "camwidgets.cams",
    "sliding_window": "camwidgets.engine.methods.sess",
    "window_starts": "camwidgets.engine.methods.sess",
    "DEFAULT_COMPARISON_CATEGORIES": "camwidgets.engine.methods.wrappers",
    "guided_backprop": "camwidgets.engine.guided",
    "guided_gradcam": "camwidgets.engine.guided",
    "show_factorization_on_image": "camwidgets.render.factorization",
    # widgets
    "CAMExplorer": "camwidgets.explorer",
    "DatasetExplorer": "camwidgets.explorer",
    "Cancelled": "camwidgets.engine.progress",
    # engine
    "Explainer": "camwidgets.engine.explainer",
    "explaining_input": "camwidgets.engine.inputs",
    "ImageTextModel": "camwidgets.engine.image_text",
    "TextPromptTarget": "camwidgets.engine.image_text",
    "load_shapes_clip": "camwidgets.data.shapes_clip",
    "CaptureCache": "camwidgets.engine.explainer",
    "suggest_target_layer": "camwidgets.engine.layers",
    "resolve_target_layers": "camwidgets.engine.layers",
    "method_names": "camwidgets.engine.methods",
    "single_capture_methods": "camwidgets.engine.methods",
    "get_method": "camwidgets.engine.methods",
    "get_2d_projection": "camwidgets.compat.projections",
    "get_2d_projection_kernel": "camwidgets.compat.projections",
    "get_2d_projection_with_sign_correction": "camwidgets.compat.projections",
    "ActivationsAndGradients": "camwidgets.compat.projections",
    "replace_layer_recursive": "camwidgets.compat.find_layers",
    "replace_all_layer_type_recursive": "camwidgets.compat.find_layers",
    "find_layer_types_recursive": "camwidgets.compat.find_layers",
    "find_layer_predicate_recursive": "camwidgets.compat.find_layers",
    # targets
    "ClassifierOutputTarget": "camwidgets.engine.targets",
    "ClassifierOutputSoftmaxTarget": "camwidgets.engine.targets",
    "ClassifierOutputReST": "camwidgets.engine.targets",
    "BinaryClassifierOutputTarget": "camwidgets.engine.targets",
    "SoftmaxOutputTarget": "camwidgets.engine.targets",
    "RawScoresOutputTarget": "camwidgets.engine.targets",
    "SemanticSegmentationTarget": "camwidgets.engine.targets",
    "FasterRCNNBoxScoreTarget": "camwidgets.engine.targets",
    "SimilarityToConceptTarget": "camwidgets.engine.targets",
    "FinerWeightedTarget": "camwidgets.engine.targets",
    "EachOf": "camwidgets.engine.targets",
    # reshape transforms
    "vit_reshape_transform": "camwidgets.engine.reshape",
    "swin_reshape_transform": "camwidgets.engine.reshape",
    "swinT_reshape_transform": "camwidgets.engine.reshape",
    "fasterrcnn_reshape_transform": "camwidgets.engine.reshape",
    # metrics
    "CamMultImageConfidenceChange": "camwidgets.metrics",
    "DropInConfidence": "camwidgets.metrics",
    "IncreaseInConfidence": "camwidgets.metrics",
    "average_drop": "camwidgets.metrics",
    "increase_in_confidence": "camwidgets.metrics",
    "ROADMostRelevantFirst": "camwidgets.metrics",
    "ROADLeastRelevantFirst": "camwidgets.metrics",
    "ROADMostRelevantFirstAverage": "camwidgets.metrics",
    "ROADLeastRelevantFirstAverage": "camwidgets.metrics",
    "ROADCombined": "camwidgets.metrics",
    "NoisyLinearImputer": "camwidgets.metrics",
    "neighbors_weights": "camwidgets.metrics.road",
    "PerturbationConfidenceMetric": "camwidgets.metrics",
    "RemoveMostRelevantFirst": "camwidgets.metrics",
    "RemoveLeastRelevantFirst": "camwidgets.metrics",
    "AveragerAcrossThresholds": "camwidgets.metrics",
    "multiply_tensor_with_cam": "camwidgets.metrics",
    "batch_pearson_coherency": "camwidgets.metrics",
    "deletion_curve": "camwidgets.metrics",
    "insertion_curve": "camwidgets.metrics",
    "pointing_game": "camwidgets.metrics",
    "energy_pointing_game": "camwidgets.metrics",
    "relevance_mass_accuracy": "camwidgets.metrics",
    "relevance_rank_accuracy": "camwidgets.metrics",
    "boxes_to_masks": "camwidgets.metrics",
    "smooth_random_maps": "camwidgets.metrics",
    "Complexity": "camwidgets.metrics",
    "Coherency": "camwidgets.metrics",
    "ARCC": "camwidgets.metrics",
    "ADCC": "camwidgets.metrics",
    "model_randomization_test": "camwidgets.metrics",
    "random_logit_test": "camwidgets.metrics",
    "rank_methods": "camwidgets.metrics",
    # whole datasets
    "explain_dataset": "camwidgets.dataset",
    "load_results": "camwidgets.dataset",
    "DatasetResults": "camwidgets.dataset",
    "write_report": "camwidgets.dataset",
    # images
    "show_cam_on_image": "camwidgets.render.overlay",
    "preprocess_image": "camwidgets.compat.preprocessing",
    "deprocess_image": "camwidgets.compat.preprocessing",
    "scale_cam_image": "camwidgets.compat.preprocessing",
    "scale_accross_batch_and_channels": "camwidgets.compat.preprocessing",
    "sobel_cam": "camwidgets.compat.preprocessing",
    "create_labels_legend": "camwidgets.render.factorization",
    "load_photo": "camwidgets.data",
    "photo_names": "camwidgets.data",
    "photo_path": "camwidgets.data",
}

__all__ = sorted(_EXPORTS)


dropin.install()  # pytorch-grad-cam's module paths: camwidgets.utils.image, camwidgets.grad_cam, ...


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        if name in dropin.REFERENCE_MODULES:  # a reference module path, as `pytorch_grad_cam.utils`
            return importlib.import_module(f"camwidgets.{name}")
        raise AttributeError(f"module 'camwidgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
