"""Where a benchmark's table goes: printed, and written whole to its results file (a temporary file
renamed into place, so an interrupted run never leaves half a table)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def publish(text: str, path: Path) -> None:
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    partial.replace(path)


def verdict_lines(checks: Iterable[tuple[str, float, str, float]]) -> list[str]:
    """``- name: value (target >= bound): met`` for each ``(name, value, ">=" or "<=", bound)``."""
    lines = []
    for name, value, sense, bound in checks:
        met = value >= bound if sense == ">=" else value <= bound
        lines.append(f"- {name}: {value:.2f} (target {sense} {bound}): {'met' if met else 'NOT met'}")
    return lines


def spread(values: Iterable[float], digits: int = 2) -> str:
    """``median (min–max)`` of per-round values: the result and how much the rounds varied."""
    import statistics

    values = list(values)
    return f"{statistics.median(values):.{digits}f}x ({min(values):.{digits}f}–{max(values):.{digits}f})"


def one_minute_load() -> float:
    """The 1-minute load average now (NaN where the OS does not tell)."""
    import os

    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")
