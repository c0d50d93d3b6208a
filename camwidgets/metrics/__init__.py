"""Can I trust this map? Metrics that perturb the input with a map and score the model again.

Same names, signatures and return values as ``pytorch_grad_cam.metrics`` (grad-cam 1.5.x), computed
for the whole batch in torch on the model's device; results come back as numpy float32 (B,).

* ``cam_mult``: confidence change when the image is multiplied by its map (Grad-CAM++):
  ``CamMultImageConfidenceChange``, ``DropInConfidence``, ``IncreaseInConfidence``, and the batch
  averages ``average_drop`` and ``increase_in_confidence``.
* ``road``: RemOve And Debias, pixels removed by the map and filled by noisy linear imputation:
  ``ROADMostRelevantFirst``, ``ROADLeastRelevantFirst``, their averages over percentiles and
  ``ROADCombined``.
* ``deletion``: deletion and insertion curves (RISE), the score as the most relevant pixels are
  replaced by a baseline (blurred or constant) or revealed on it: ``deletion_curve``,
  ``insertion_curve`` returning a ``CurveResult`` (fractions, scores, AUC), and the helpers
  ``gaussian_blur``, ``make_baseline``.
* ``localization``: agreement with ground-truth masks (or boxes, via ``boxes_to_masks``):
  ``pointing_game``, ``energy_pointing_game`` (also named ``relevance_mass_accuracy``) and
  ``relevance_rank_accuracy``, returned as numpy (B,).
"""

from .cam_mult import (
    CamMultImageConfidenceChange,
    DropInConfidence,
    IncreaseInConfidence,
    average_drop,
    increase_in_confidence,
    multiply_tensor_with_cam,
)
from .confidence import PerturbationConfidenceMetric
from .deletion import CurveResult, deletion_curve, gaussian_blur, insertion_curve, make_baseline
from .imputation import NoisyLinearImputer, linear_imputation, noisy_linear_imputation
from .localization import (
    boxes_to_masks,
    energy_pointing_game,
    pointing_game,
    relevance_mass_accuracy,
    relevance_rank_accuracy,
)
from .road import (
    AveragerAcrossThresholds,
    RemoveLeastRelevantFirst,
    RemoveMostRelevantFirst,
    ROADCombined,
    ROADLeastRelevantFirst,
    ROADLeastRelevantFirstAverage,
    ROADMostRelevantFirst,
    ROADMostRelevantFirstAverage,
    percentile_threshold,
)

__all__ = [
    "PerturbationConfidenceMetric",
    "multiply_tensor_with_cam",
    "CamMultImageConfidenceChange",
    "DropInConfidence",
    "IncreaseInConfidence",
    "average_drop",
    "increase_in_confidence",
    "NoisyLinearImputer",
    "noisy_linear_imputation",
    "linear_imputation",
    "percentile_threshold",
    "RemoveMostRelevantFirst",
    "RemoveLeastRelevantFirst",
    "AveragerAcrossThresholds",
    "ROADMostRelevantFirst",
    "ROADLeastRelevantFirst",
    "ROADMostRelevantFirstAverage",
    "ROADLeastRelevantFirstAverage",
    "ROADCombined",
    "CurveResult",
    "deletion_curve",
    "insertion_curve",
    "gaussian_blur",
    "make_baseline",
    "boxes_to_masks",
    "pointing_game",
    "energy_pointing_game",
    "relevance_mass_accuracy",
    "relevance_rank_accuracy",
]
