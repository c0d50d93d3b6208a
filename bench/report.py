"""Where a benchmark's table goes: printed, and written whole to its results file (a temporary file
renamed into place, so an interrupted run never leaves half a table)."""

from __future__ import annotations

from pathlib import Path


def publish(text: str, path: Path) -> None:
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    partial.replace(path)
