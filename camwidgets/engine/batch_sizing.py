"""How many copies go through the model per forward, chosen from measured time.

The perturbation methods run thousands of forwards of the same shape. On a CPU the time per copy is
U-shaped in the batch size: small batches pay the per-call overhead, large ones spill the caches.
Folded resnet50 on 2 CPU cores takes about 25 ms per copy in batches of 2 to 8 and 29 ms in
batches of 16 (mobilenet_v2: 3.0 ms at 4, 5.0 ms at 16); on a GPU larger is faster up to memory.

:class:`MeasuredChunks` serves the work as slices: the first (a warm-up: the first forward of a
shape creates kernels and checks the folded copy) and then one slice per candidate size
``2, 4, 8, ...`` are real work that is timed; the size with the least time per copy is kept for the
rest, and remembered for the model and input shape, so the next call starts with it. Candidates
stop growing once one takes 10% longer per copy than the best so far.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["MeasuredChunks", "chosen_batch_size", "CANDIDATES"]

#: Batch sizes tried in order until one is slower per copy than the best so far.
CANDIDATES = (2, 4, 8, 16, 32, 64)
#: A candidate this much slower per copy than the best so far ends the search.
WORSE = 1.10

_CHOSEN: weakref.WeakKeyDictionary[nn.Module, dict[tuple, int]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _key(images: torch.Tensor) -> tuple:
    return (tuple(images.shape[1:]), images.device.type, images.dtype)


def chosen_batch_size(model: nn.Module, images: torch.Tensor) -> int | None:
    """The size measured earlier for this model and this shape of input (None: not measured yet)."""
    with _LOCK:
        return _CHOSEN.get(model, {}).get(_key(images))


class MeasuredChunks:
    """Slices of ``count`` jobs; ``fixed`` (an int) gives plain chunks of that size, ``None`` measures.

    Iterate with :meth:`slices`; the time between one slice being handed out and the next request is
    the work done on it. The choice carries over between calls of :meth:`slices` (one per noise or
    scale sample of SS-CAM and IS-CAM) and is stored for ``model`` and the shape of ``images``."""

    def __init__(self, model: nn.Module, images: torch.Tensor, fixed: int | None) -> None:
        self.model, self.key = model, _key(images)
        self.size = fixed if fixed is not None else chosen_batch_size(model, images)
        self.per_copy: dict[int, float] = {}  # candidate -> measured seconds per copy

    def slices(self, count: int) -> Iterator[slice]:
        start = 0
        if self.size is None:
            start = yield from self._measure(count)
        while start < count:
            stop = min(start + self.size, count)
            yield slice(start, stop)
            start = stop

    def _measure(self, count: int) -> Iterator[slice]:
        """Warm up on the smallest candidate, then time candidates while they improve; returns where it stopped."""
        start = min(CANDIDATES[0], count)
        if start:
            yield slice(0, start)
        for size in CANDIDATES:
            if start + size > count:
                break
            began = time.perf_counter()
            yield slice(start, start + size)
            self.per_copy[size] = (time.perf_counter() - began) / size
            start += size
            if self.per_copy[size] > WORSE * min(self.per_copy.values()):
                break
        if self.per_copy:
            self.size = min(self.per_copy, key=self.per_copy.get)
            with _LOCK:
                _CHOSEN.setdefault(self.model, {})[self.key] = self.size
        else:  # too little work to measure: the rest in one go, nothing remembered
            self.size = max(count - start, 1)
        return start
