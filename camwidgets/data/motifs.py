"""Synthetic signals with one planted motif: which motif is the class, its interval the ground truth.

Each signal (``LENGTH`` samples, one channel) is a slow random walk plus noise, with one of
``MOTIFS`` added over an exact interval at a random place: a sine burst, a square pulse train, a
chirp (rising frequency) or a sawtooth. The interval is where a 1-D CAM should point.

>>> from camwidgets.data.motifs import make_motif_signals
>>> batch = make_motif_signals(4, seed=0)
>>> batch.signals.shape, batch.labels.shape, batch.intervals.shape
((4, 1, 256), (4,), (4, 2))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .batch_rows import BatchRows

__all__ = ["LENGTH", "MOTIFS", "MotifBatch", "MotifDataset", "make_motif_signals", "motif"]

#: Class names, in label order.
MOTIFS: tuple[str, ...] = ("sine burst", "pulses", "chirp", "sawtooth")
#: Samples per signal.
LENGTH = 256
#: A motif's length in samples (smallest, largest).
_MOTIF_LENGTH = (32, 48)


@dataclass(frozen=True)
class MotifBatch:
    """Generated signals with their ground truth.

    ``signals``: float32 (N, 1, L). ``labels``: int64 (N,), indices into MOTIFS. ``intervals``:
    int64 (N, 2), the motif's first sample and one past its last."""

    signals: np.ndarray
    labels: np.ndarray
    intervals: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def masks(self) -> np.ndarray:
        """bool (N, L): True inside each signal's motif."""
        positions = np.arange(self.signals.shape[-1])
        return (positions >= self.intervals[:, :1]) & (positions < self.intervals[:, 1:])


class MotifDataset(BatchRows):
    """The signals of a :class:`MotifBatch` as :func:`~camwidgets.explain_dataset` reads them:
    ``{"image": (1, L) float32, "label", "path": "motifs/NNNNN"}``."""

    classes = list(MOTIFS)
    field = "signals"
    prefix = "motifs"


def motif(kind: str, length: int, cycles: float) -> np.ndarray:
    """One motif of ``length`` samples and about ``cycles`` periods, peak amplitude 1, tapered at
    both ends (a Hann window's first and last eighth)."""
    phase = np.linspace(0.0, cycles, length, endpoint=False)
    if kind == "sine burst":
        wave = np.sin(2 * np.pi * phase)
    elif kind == "pulses":
        wave = np.where((phase % 1.0) < 0.5, 1.0, -1.0)
    elif kind == "chirp":
        wave = np.sin(2 * np.pi * cycles * np.linspace(0.0, 1.0, length, endpoint=False) ** 2)
    elif kind == "sawtooth":
        wave = 2 * (phase % 1.0) - 1
    else:
        raise ValueError(f"kind must be one of {', '.join(MOTIFS)}; got {kind!r}")
    taper = np.ones(length)
    edge = max(length // 8, 1)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, edge))
    taper[:edge], taper[-edge:] = ramp, ramp[::-1]
    return (wave * taper).astype(np.float32)


def make_motif_signals(count: int, length: int = LENGTH, seed: int = 0) -> MotifBatch:
    """``count`` signals of ``length`` samples, deterministic for a seed (see the module docstring)."""
    rng = np.random.default_rng(seed)
    signals = np.empty((count, 1, length), dtype=np.float32)
    labels = rng.integers(0, len(MOTIFS), size=count).astype(np.int64)
    intervals = np.empty((count, 2), dtype=np.int64)
    for index in range(count):
        size = int(rng.integers(_MOTIF_LENGTH[0], _MOTIF_LENGTH[1] + 1))
        start = int(rng.integers(0, length - size + 1))
        walk = np.cumsum(rng.normal(0.0, 0.08, size=length))
        signal = walk - walk.mean() + rng.normal(0.0, 0.25, size=length)
        amplitude = float(rng.uniform(0.9, 1.4))
        signal[start : start + size] += amplitude * motif(MOTIFS[labels[index]], size, float(rng.uniform(3.0, 5.0)))
        signals[index, 0] = signal
        intervals[index] = (start, start + size)
    return MotifBatch(signals, labels, intervals)
