"""Running a model on channels-last images, where CPU convolutions are markedly faster."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["ChannelsLastForward"]


class ChannelsLastForward:
    """``model(images)`` with 4-D images in channels-last memory layout (same values up to float
    rounding, about 1e-5 in the logits; convolutions on a CPU ran about 1.5x faster that way).

    A model that rejects the layout on the first call (a ``view`` that needs contiguous memory)
    gets the images as they are, from then on; once the layout has worked, errors are the model's
    own and propagate. ``enabled=False`` always passes the images as they are."""

    def __init__(self, model: nn.Module, enabled: bool = True) -> None:
        self.model = model
        self.channels_last: bool | None = None if enabled else False  # None: not tried yet

    def __call__(self, images: torch.Tensor) -> Any:
        if self.channels_last is not False and images.ndim == 4:
            try:
                outputs = self.model(images.contiguous(memory_format=torch.channels_last))
                self.channels_last = True
                return outputs
            except Exception:  # noqa: BLE001 - retried below in the images' own layout
                if self.channels_last:
                    raise
                self.channels_last = False
        return self.model(images)
