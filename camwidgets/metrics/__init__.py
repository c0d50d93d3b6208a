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
* ``arcc``: one score from a map's coherency, complexity and faithfulness (harmonic means):
  ``Complexity``, ``Coherency``, ``AverageDropForADCC``, ``ARCC`` (with ROAD, as the reference) and
  ``ADCC`` (with Average Drop, as the paper), and ``batch_pearson_coherency``.
* ``sanity``: Adebayo et al.'s sanity checks, ``model_randomization_test`` (cascading, on a copy
  of the model) returning a ``RandomizationResult`` and ``random_logit_test`` returning a
  ``RandomLogitResult``, with the similarities ``spearman_rank_correlation`` and ``ssim``.
* ``tuner``: ``rank_methods`` scores every method x layer on your images (one capture per layer)
  by ROAD, Average Drop, deletion, insertion or your own metric, returning a ``RankingTable`` of
  ``RankingRow`` (best first, with timings; ``to_text()``, ``chart()``).
"""

from .arcc import ADCC, ARCC, AverageDropForADCC, Coherency, Complexity, batch_pearson_coherency
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
from .sanity import (
    RandomizationResult,
    RandomLogitResult,
    model_randomization_test,
    random_logit_test,
    spearman_rank_correlation,
    ssim,
)
from .tuner import RankingRow, RankingTable, rank_methods
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
    "Complexity",
    "Coherency",
    "AverageDropForADCC",
    "ARCC",
    "ADCC",
    "batch_pearson_coherency",
    "RandomizationResult",
    "RandomLogitResult",
    "model_randomization_test",
    "random_logit_test",
    "spearman_rank_correlation",
    "ssim",
    "RankingRow",
    "RankingTable",
    "rank_methods",
]
