"""The README is a front page: at most 250 lines, its example runs as written, and every link into
the documentation's pages and the repository points at a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_a_front_page_whose_links_exist():
    assert len(README.splitlines()) <= 250
    links = [target for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README) if "://" not in target]
    assert any(link.startswith("docs/pages/") for link in links)
    missing = [link for link in links if not (ROOT / link).exists()]
    assert missing == []


def test_the_readme_example_runs_as_written():
    (example,) = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102  (our own README)
    maps, overlay, explorer = namespace["maps"], namespace["overlay"], namespace["explorer"]
    assert maps.shape[0] == 1 and maps.dtype == np.float32 and maps.min() >= 0.0 and abs(maps.max() - 1.0) < 1e-5
    assert overlay.dtype == np.uint8 and overlay.shape == (*maps.shape[1:], 3)
    assert explorer.state.method == "gradcam" and explorer.state.layers == ("features.18",)
