"""Explaining a whole dataset: :func:`explain_dataset` writes a table, maps and a manifest to a folder
(resumable, and sharded across ``torchrun`` processes); :func:`load_results` reads them back and
:func:`write_report` makes a shareable HTML page of them."""

from .explain import MASK_METRICS, METRICS, DatasetResults, explain_dataset, load_results
from .report import write_report
from .sources import ImageFiles

__all__ = ["explain_dataset", "load_results", "write_report", "DatasetResults", "ImageFiles", "METRICS", "MASK_METRICS"]
