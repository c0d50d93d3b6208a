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

from . import arcc, cam_mult, confidence, deletion, imputation, localization, road, sanity, tuner
from .arcc import *  # noqa: F401,F403
from .cam_mult import *  # noqa: F401,F403
from .confidence import *  # noqa: F401,F403
from .deletion import *  # noqa: F401,F403
from .imputation import *  # noqa: F401,F403
from .localization import *  # noqa: F401,F403
from .road import *  # noqa: F401,F403
from .sanity import *  # noqa: F401,F403
from .tuner import *  # noqa: F401,F403

__all__ = [
    name
    for module in (confidence, cam_mult, imputation, road, deletion, localization, arcc, sanity, tuner)
    for name in module.__all__
]
