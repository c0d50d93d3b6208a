"""Copy the explorer screenshots taken by the browser tests into the README's images.

    python -m pytest tests/browser   # writes tests/browser/screenshots/*.png
    python -m tests.browser.publish_screenshot           # copies them to notebooks/images/

Only a PNG that the test wrote in the last day is copied, so the README shows what the real
explorer rendered in JupyterLab."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

SOURCE = Path(__file__).parent / "screenshots" / "explorer.png"
TARGET = Path(__file__).resolve().parents[2] / "notebooks" / "images" / "explorer.png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_AGE_S = 24 * 3600


def publish(source: Path = SOURCE, target: Path = TARGET) -> Path:
    if not source.is_file():
        raise SystemExit(f"{source} is missing: run `python -m pytest tests/browser/test_explorer.py` first")
    if source.read_bytes()[:8] != PNG_SIGNATURE:
        raise SystemExit(f"{source} is not a PNG file")
    age = time.time() - source.stat().st_mtime
    if age > MAX_AGE_S:
        raise SystemExit(f"{source} is {age / 3600:.0f} h old: run the browser test again to take a fresh one")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


if __name__ == "__main__":
    print(f"wrote {publish()}", file=sys.stderr)
    # the dark-theme one (same test file) and the task modes (test_task_explorer.py)
    for name in (
        "explorer-dark.png",
        "explorer-detection.png",
        "explorer-segmentation.png",
        "explorer-similarity.png",
        "explorer-volume.png",
        "explorer-clip.png",
        "explorer-signal.png",
        "explorer-text-prompt.png",
    ):  # volume, clip, signal: test_spacetime_explorer.py; text prompt: test_text_prompt_explorer.py
        print(f"wrote {publish(SOURCE.with_name(name), TARGET.with_name(name))}", file=sys.stderr)
