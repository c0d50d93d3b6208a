"""The CAM engine: pure torch, knows nothing about widgets.

This is its public door: the rest of the package imports the engine from here, never from its
modules (``tests/test_import_direction.py`` checks it)."""

from .batch_sizing import MeasuredChunks, chosen_batch_size
from .blur import gaussian_blur
from .capture import Capture, LayerRecord, capture, check_input, check_targets, target_value, top_class_targets
from .detections import AnchorScoreTarget, DetectionReader, detection_reader
from .explainer import CaptureCache, Explainer, ModelFingerprint
from .factorization import deep_feature_factorization
from .guided import guided_backprop, guided_gradcam, relu6_count
from .image_text import HuggingFaceImageTower, ImageTextModel, TextPromptTarget, check_prompts, is_image_text_model
from .inference_twin import TwinForward, twin_of
from .inputs import (
    LayerCall,
    SeveralInputs,
    explaining_input,
    is_several_inputs,
    layers_seeing,
    paired_rows,
    several_inputs_active,
)
from .layers import module_name, resolve_target_layers, suggest_target_layer
from .maps import NORMALISATIONS, normalise_per_image, upsample
from .memory_layout import ChannelsLastForward
from .methods import (
    FAMILIES,
    METHODS,
    MethodSpec,
    base_spec,
    get_method,
    method_names,
    methods_for,
    single_capture_methods,
)
from .methods.activation import kpca_projection
from .methods.perturbation import AblationLayer, AblationLayerFasterRCNN, AblationLayerVit
from .methods.registry import MethodCall
from .modules import (
    eager_model,
    evaluation_mode,
    forward_hooks,
    is_detection_list,
    model_device,
    model_dtype,
    model_lock,
    per_image_outputs,
    select_output,
)
from .progress import Cancelled, Progress, ProgressOption
from .reshape import Layout, channels_of, describe_layout
from .smoothing import first_principal_component
from .suggest import suggest_layer
from .targets import (
    ClassifierOutputSoftmaxTarget,
    ClassifierOutputTarget,
    EachOf,
    FasterRCNNBoxScoreTarget,
    SemanticSegmentationTarget,
    SimilarityToConceptTarget,
)
from .token_sources import token_sources

__all__ = [
    # explaining
    "Explainer", "CaptureCache", "Capture", "LayerRecord", "ModelFingerprint", "capture", "check_input", "check_targets",
    "target_value", "top_class_targets", "NORMALISATIONS", "normalise_per_image", "upsample",
    # methods
    "METHODS", "FAMILIES", "MethodSpec", "MethodCall", "base_spec", "get_method", "method_names", "methods_for", "single_capture_methods",
    "AblationLayer", "AblationLayerFasterRCNN", "AblationLayerVit", "guided_backprop", "guided_gradcam", "relu6_count",
    "deep_feature_factorization", "gaussian_blur", "kpca_projection", "first_principal_component",
    # targets and detectors' outputs
    "ClassifierOutputTarget", "ClassifierOutputSoftmaxTarget", "SemanticSegmentationTarget", "FasterRCNNBoxScoreTarget",
    "SimilarityToConceptTarget", "EachOf", "AnchorScoreTarget", "DetectionReader", "detection_reader",
    # layers and layouts
    "Layout", "channels_of", "describe_layout", "module_name", "resolve_target_layers", "suggest_layer", "suggest_target_layer",
    "token_sources",
    # models
    "eager_model", "evaluation_mode", "forward_hooks", "is_detection_list", "model_device", "model_dtype", "model_lock",
    "per_image_outputs", "select_output", "ChannelsLastForward",
    # image–text models
    "ImageTextModel", "TextPromptTarget", "HuggingFaceImageTower", "is_image_text_model", "check_prompts",
    # several inputs
    "SeveralInputs", "explaining_input", "paired_rows", "is_several_inputs", "layers_seeing", "LayerCall",
    "several_inputs_active", "TwinForward", "twin_of", "MeasuredChunks", "chosen_batch_size",
    # progress
    "Cancelled", "Progress", "ProgressOption",
]  # fmt: skip
