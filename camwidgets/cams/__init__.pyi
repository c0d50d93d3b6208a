# Written by `python -m camwidgets._stubs` from the method registry and the exports; do not edit.

from typing import Any

from ..engine import AblationLayer as AblationLayer
from ..engine import AblationLayerFasterRCNN as AblationLayerFasterRCNN
from ..engine import AblationLayerVit as AblationLayerVit
from .base import BaseCAM as BaseCAM
from .base import ForwardCalledCAM as ForwardCalledCAM
from .base import compute_cams as compute_cams
from .base import method_class as method_class
from .factorization import DeepFeatureFactorization as DeepFeatureFactorization
from .factorization import run_dff_on_image as run_dff_on_image
from .factorization import dff as dff

CLASSES: dict[str, type[BaseCAM]]


class GradCAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., **options: Any) -> None: ...

class HiResCAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., **options: Any) -> None: ...

class GradCAMElementWise(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., **options: Any) -> None: ...

class GradCAMPlusPlus(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., **options: Any) -> None: ...

class XGradCAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., **options: Any) -> None: ...

class LayerCAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., **options: Any) -> None: ...

class EigenGradCAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., **options: Any) -> None: ...

class SegEigenCAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., **options: Any) -> None: ...

class ShapleyCAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., **options: Any) -> None: ...

class EigenCAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., **options: Any) -> None: ...

class FEM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., k: Any = ..., **options: Any) -> None: ...

class KPCA_CAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., kernel: Any = ..., gamma: Any = ..., **options: Any) -> None: ...

class RandomCAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., *, seed: Any = ..., **options: Any) -> None: ...

class FullGrad(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., **options: Any) -> None: ...

class ScoreCAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., *, batch_size: Any = ..., deduplicate: Any = ..., use_amp: Any = ..., channels_last: Any = ..., **options: Any) -> None: ...

class SSCAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., *, batch_size: Any = ..., num_samples: Any = ..., std: Any = ..., seed: Any = ..., use_amp: Any = ..., channels_last: Any = ..., **options: Any) -> None: ...

class ISCAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., *, batch_size: Any = ..., num_samples: Any = ..., deduplicate: Any = ..., use_amp: Any = ..., channels_last: Any = ..., **options: Any) -> None: ...

class AblationCAM(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., ablation_layer: Any = ..., batch_size: Any = ..., ratio_channels_to_ablate: Any = ..., *, reuse_prefix: Any = ..., **options: Any) -> None: ...

class FinerCAM(ForwardCalledCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., base_method: Any = ..., *, alpha: Any = ..., comparison_categories: Any = ..., target_idx: Any = ..., base_options: Any = ..., **options: Any) -> None: ...

class RefineCAM(ForwardCalledCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., base_method: Any = ..., *, base_options: Any = ..., **options: Any) -> None: ...

class SmoothGradCAMpp(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., num_samples: Any = ..., std: Any = ..., *, seed: Any = ..., **options: Any) -> None: ...

class SESS(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., base_method: Any = ..., scales: Any = ..., num_scales: Any = ..., scale_step_ratio: Any = ..., window_size: Any = ..., step_size: Any = ..., pre_filter_ratio: Any = ..., theta: Any = ..., pool: Any = ..., smooth: Any = ..., use_softmax_scores: Any = ..., batch_size: Any = ..., *, base_options: Any = ..., **options: Any) -> None: ...

class AttentionRollout(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., *, head_fusion: Any = ..., discard_ratio: Any = ..., **options: Any) -> None: ...

class GradientWeightedAttention(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., **options: Any) -> None: ...

class LeGrad(BaseCAM):
    def __init__(self, model: Any, target_layers: Any = ..., reshape_transform: Any = ..., *, score_projection: Any = ..., **options: Any) -> None: ...
