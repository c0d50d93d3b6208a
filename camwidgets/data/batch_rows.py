"""A generated batch's items as the rows :func:`~camwidgets.explain_dataset` reads (one base for the
synthetic volumes, clips and signals)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["BatchRows"]


class BatchRows(torch.utils.data.Dataset):
    """Row ``i``: ``{"image": the batch's ``field`` item as a float32 tensor, "label": its class,
    "path": "<prefix>/NNNNN"}``. ``classes`` are the class names; a subclass sets them, ``field`` and
    ``prefix``, and may say how a label is read (:meth:`label`)."""

    classes: list[str] = []
    field = ""
    prefix = ""

    def __init__(self, batch: Any) -> None:
        self.batch = batch

    def __len__(self) -> int:
        return len(self.batch)

    def label(self, index: int) -> int:
        return int(self.batch.labels[index])

    def __getitem__(self, index: int) -> dict:
        item = np.ascontiguousarray(getattr(self.batch, self.field)[index], dtype=np.float32)
        return {"image": torch.from_numpy(item), "label": self.label(index), "path": f"{self.prefix}/{index:05d}"}
