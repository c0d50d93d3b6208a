"""pytorch-grad-cam's module paths inside camwidgets, so that its scripts run after a rename.

``REFERENCE_MODULES`` lists, for every module of grad-cam 1.5.7 (path relative to the package),
the public names it holds. ``camwidgets.grad_cam``, ``camwidgets.utils.image``,
``camwidgets.metrics.cam_mult_image``, ... are made on import from this table: thin modules whose
names are the top-level ``camwidgets`` objects (one object per name, wherever it is imported
from). Paths that are real camwidgets modules (``metrics``, ``metrics.road``, ``metrics.arcc``)
hold the same names themselves; a test checks the table against the installed reference.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import inspect
import sys
import types
from typing import Any

__all__ = ["REFERENCE_MODULES", "install"]

_CAMS = {
    "ablation_cam": ("AblationCAM",),
    "ablation_cam_multilayer": ("AblationLayer", "replace_layer_recursive", "AblationCAM"),
    "ablation_layer": ("AblationLayer", "AblationLayerVit", "AblationLayerFasterRCNN"),
    "activations_and_gradients": ("ActivationsAndGradients",),
    "base_cam": ("BaseCAM",),
    "eigen_cam": ("EigenCAM",),
    "eigen_grad_cam": ("EigenGradCAM",),
    "fem": ("FEM",),
    "finer_cam": ("DEFAULT_COMPARISON_CATEGORIES", "FinerCAM"),
    "fullgrad_cam": ("FullGrad",),
    "grad_cam": ("GradCAM",),
    "grad_cam_elementwise": ("GradCAMElementWise",),
    "grad_cam_plusplus": ("GradCAMPlusPlus",),
    "guided_backprop": ("GuidedBackpropReLU", "GuidedBackpropReLUasModule", "GuidedBackpropReLUModel"),
    "hirescam": ("HiResCAM",),
    "kpca_cam": ("KPCA_CAM",),
    "layer_cam": ("LayerCAM",),
    "random_cam": ("RandomCAM",),
    "refine_cam": ("RefineCAM",),
    "score_cam": ("ScoreCAM",),
    "seg_eigen_cam": ("SegEigenCAM",),
    "sess": ("SESS", "sliding_window", "window_starts"),
    "shapley_cam": ("ShapleyCAM",),
    "sobel_cam": ("sobel_cam",),
    "xgrad_cam": ("XGradCAM",),
    "feature_factorization": (),
    "feature_factorization.deep_feature_factorization": ("dff", "DeepFeatureFactorization", "run_dff_on_image"),
}
_METRICS = {
    "metrics": (),
    "metrics.arcc": ("batch_pearson_coherency", "Complexity", "Coherency", "ARCC"),
    "metrics.cam_mult_image": ("multiply_tensor_with_cam", "CamMultImageConfidenceChange", "DropInConfidence", "IncreaseInConfidence"),
    "metrics.perturbation_confidence": ("PerturbationConfidenceMetric", "RemoveMostRelevantFirst", "RemoveLeastRelevantFirst", "AveragerAcrossThresholds"),
    "metrics.road": (
        "neighbors_weights", "NoisyLinearImputer", "ROADMostRelevantFirst", "ROADLeastRelevantFirst",
        "ROADMostRelevantFirstAverage", "ROADLeastRelevantFirstAverage", "ROADCombined",
    ),
}  # fmt: skip
_UTILS = {
    "utils": ("deprocess_image", "get_2d_projection", "model_targets", "reshape_transforms"),
    "utils.find_layers": ("replace_layer_recursive", "replace_all_layer_type_recursive", "find_layer_types_recursive", "find_layer_predicate_recursive"),
    "utils.image": (
        "preprocess_image", "deprocess_image", "show_cam_on_image", "create_labels_legend",
        "show_factorization_on_image", "scale_cam_image", "scale_accross_batch_and_channels",
    ),
    "utils.model_targets": (
        "ClassifierOutputTarget", "ClassifierOutputSoftmaxTarget", "ClassifierOutputReST", "BinaryClassifierOutputTarget",
        "SoftmaxOutputTarget", "RawScoresOutputTarget", "SemanticSegmentationTarget", "FasterRCNNBoxScoreTarget", "FinerWeightedTarget",
    ),
    "utils.reshape_transforms": ("fasterrcnn_reshape_transform", "swinT_reshape_transform", "vit_reshape_transform"),
    "utils.svd_on_activations": ("get_2d_projection", "get_2d_projection_kernel", "get_2d_projection_with_sign_correction"),
}  # fmt: skip

#: reference module path (relative to the package) -> the public names it holds
REFERENCE_MODULES: dict[str, tuple[str, ...]] = {**_CAMS, **_METRICS, **_UTILS}
_PACKAGES = {path.rsplit(".", 1)[0] for path in REFERENCE_MODULES if "." in path}


class _CallableAlias(types.ModuleType):
    """An alias module named like a top-level camwidgets function (``guided_backprop``,
    ``sobel_cam``): importing it sets ``camwidgets.<name>`` to the module, so the module calls
    the function, and both readings of ``camwidgets.<name>`` keep working."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__function__(*args, **kwargs)


def _alias_module(fullname: str, path: str) -> types.ModuleType:
    """A module whose names resolve, on first use, to ``camwidgets``' objects or to sub-aliases."""
    package = sys.modules["camwidgets"]
    doc = f"pytorch-grad-cam's ``{path}`` in camwidgets: the same names, camwidgets' objects."
    if path in package.__all__:
        module: types.ModuleType = _CallableAlias(fullname, doc)
        function = getattr(package, path)
        module.__function__ = function  # type: ignore[attr-defined]
        module.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]
    else:
        module = types.ModuleType(fullname, doc)
    names = REFERENCE_MODULES[path]
    module.__all__ = [name for name in names if f"{path}.{name}" not in REFERENCE_MODULES]  # type: ignore[attr-defined]

    def __getattr__(name: str) -> Any:
        if f"{path}.{name}" in REFERENCE_MODULES:
            return importlib.import_module(f"{fullname}.{name}")
        if name in names:
            value = getattr(importlib.import_module("camwidgets"), name)
            setattr(module, name, value)
            return value
        raise AttributeError(f"module {fullname!r} has no attribute {name!r}")

    module.__getattr__ = __getattr__  # type: ignore[attr-defined]
    return module


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``camwidgets.<reference path>`` when no real module has that name (consulted last)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        prefix, _, rest = fullname.partition(".")
        if prefix != "camwidgets" or rest not in REFERENCE_MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=rest in _PACKAGES)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _alias_module(spec.name, spec.name.partition(".")[2])
        if spec.submodule_search_locations is not None:
            module.__path__ = []  # type: ignore[attr-defined]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def install() -> None:
    """Put the alias finder at the end of ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
