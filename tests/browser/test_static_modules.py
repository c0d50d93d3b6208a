"""The explorer's one ES module (js/*.js joined) on a plain page with a fake model built from the real
Python widgets' state: each renders, survives every control being poked, guards every focusable
control against JupyterLab's shortcuts, and its cleanup removes every listener it added."""

from __future__ import annotations

from pathlib import Path

import anywidget
import numpy as np
import pytest
import torch
from ipywidgets.widgets.widget import _remove_buffers
from torch import nn

from .contrast import CONTRAST_RATIO
from .static_page import render_widget, serve

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser


# data-testid values the browser tests and users rely on.
CONTRACT = {
    "cw-layer-tree",
    "cw-layer-node",
    "cw-layer-filter",
    "cw-overlay",
    "cw-overlay-canvas",
    "cw-opacity",
    "cw-colormap",
    "cw-mode-heatmap",
    "cw-mode-overlay",
    "cw-mode-photo",
    "cw-readout",
    "cw-status",
    "cw-error",
    "cw-progress",
    "cw-cancel",
    "cw-sweep",
    "cw-sweep-item",
}


def anywidgets(widget) -> list:
    """Every anywidget in a widget tree (containers' children, depth first)."""
    found = [widget] if isinstance(widget, anywidget.AnyWidget) else []
    for child in getattr(widget, "children", ()):
        found += anywidgets(child)
    return found


@pytest.fixture(scope="module")
def explorer_state():
    """(module path, JS source, state, buffers, kinds of its parts, the tree's part id) of an explorer on a tiny CNN."""
    from camwidgets import CAMExplorer

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    ).eval()
    images = [np.random.default_rng(i).integers(0, 255, (40, 40, 3), dtype=np.uint8) for i in range(2)]
    explorer = CAMExplorer(model, images, preprocess=lambda image: torch.rand(3, 32, 32))
    assert anywidgets(explorer) == [explorer]
    state, paths, buffers = _remove_buffers(explorer.get_state())
    esm = state.pop("_esm")
    kinds = set()

    def collect(node):
        kinds.add(node["kind"])
        for child in node.get("children", []):
            collect(child)

    collect(explorer.parts)
    found = ("/explorer.js", esm, state, dict(zip([tuple(p) for p in paths], buffers)), kinds, explorer.tree.part_id)
    explorer.close_all()
    return found


@pytest.fixture
def static_page(chromium, explorer_state):
    context = chromium.new_context()
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    serve(page, {explorer_state[0]: explorer_state[1]})
    yield page
    context.close()


def test_the_explorer_is_one_anywidget_of_every_kind_of_part(explorer_state):
    kinds = explorer_state[4]
    assert {"tree", "overlay", "thumbs", "dropdown", "checkbox", "combobox", "tabs", "button", "multi"} <= kinds


def test_the_explorer_renders_is_guarded_and_cleans_up(static_page, explorer_state):
    path, _, state, buffers, *_ = explorer_state
    report = render_widget(static_page, path, state, buffers, poke=True)
    rendered = report["rendered"]
    assert rendered["elements"] > 100, "the explorer rendered almost nothing"
    assert rendered["listeners"] + rendered["model_callbacks"] > 0, "the explorer listens to nothing"
    assert rendered["unguarded"] == [], "focusable controls without data-lm-suppress-shortcuts"
    assert report["after"] == {"listeners": 0, "model_callbacks": 0, "leftover": []}, f"cleanup left {report['after']}"
    assert static_page.errors == []
    assert report["sent"] + report["saved"] > 0, "poking every control sent nothing to the fake model"
    testids = set(rendered["testids"])
    assert testids >= CONTRACT, f"missing from the DOM: {sorted(CONTRACT - testids)}"
    # every message names its part
    assert all(message.get("part", "").startswith("p") for message in report["messages"])


def test_a_late_reply_to_an_older_selection_changes_nothing(static_page, explorer_state):
    path, _, state, buffers, _, tree = explorer_state
    nodes, selected = state[f"{tree}__nodes"], state[f"{tree}__selected"]
    first, second = [node["path"] for node in nodes if node["selectable"] and node["path"] not in selected][:2]
    clicks = [{"selector": f"[data-testid=cw-layer-node][data-path='{p}']", "event": "click"} for p in (first, second)]
    late = clicks + [
        {"message": {"part": tree, "type": "select", "id": 2, "ok": True, "selected": [second]}},
        {
            "message": {"part": tree, "type": "select", "id": 1, "error": "an old refusal"}
        },  # arrives after the newer answer
    ]
    errors = ".cw-layer-tree .cw-error"
    report = render_widget(static_page, path, state, buffers, actions=late, error_selector=errors)
    selections = [(m["id"], m["paths"]) for m in report["messages"] if m["type"] == "select"]
    assert selections == [(1, [first]), (2, [second])]
    assert report["errors"] == [{"hidden": True, "text": ""}], "a stale reply overwrote the newer view"
    current = clicks + [{"message": {"part": tree, "type": "select", "id": 2, "error": "refused now"}}]
    report = render_widget(static_page, path, state, buffers, actions=current, error_selector=errors)
    assert report["errors"] == [{"hidden": False, "text": "refused now"}]  # the answer to the latest request shows
    # a reply addressed to another part changes nothing in the tree
    other = clicks + [{"message": {"part": "p0", "type": "select", "id": 2, "error": "not for the tree"}}]
    report = render_widget(static_page, path, state, buffers, actions=other, error_selector=errors)
    assert report["errors"] == [{"hidden": True, "text": ""}]


# The theme the explorer read from the host, and the lowest contrast of its texts.
THEME_PROBE = (
    CONTRAST_RATIO
    + """
const root = el.querySelector('.cw-app');
const texts = [...el.querySelectorAll('.cw-field-label, [data-testid=cw-status], .cw-layer-name, .cw-tab, .cw-thumbs-title')];
return {theme: root.dataset.cwTheme, source: root.dataset.cwThemeSource, lowest: Math.min(...texts.map(contrastRatio)), count: texts.length};
"""
)

# How each host says its theme, set on the page before the explorer renders.
HOSTS = {
    "prefers-color-scheme": ("dark", ""),
    "vscode": (
        "light",
        "document.body.className = 'vscode-dark'; document.body.style.setProperty('--vscode-foreground', '#cccccc');"
        "document.body.style.setProperty('--vscode-editor-background', '#1f1f1f');",
    ),
    "marimo": ("light", "document.documentElement.dataset.theme = 'dark';"),
}


@pytest.mark.parametrize("host", HOSTS)
def test_the_theme_follows_each_host_with_readable_text(chromium, explorer_state, host):
    scheme, setup = HOSTS[host]
    context = chromium.new_context(color_scheme=scheme)
    page = context.new_page()
    try:
        path, esm, state, buffers, *_ = explorer_state
        serve(page, {path: esm})
        page.add_style_tag(path=str(ROOT / "js" / "widgets.css"))
        if setup:
            page.evaluate(f"() => {{ {setup} }}")
        probed = render_widget(page, path, state, buffers, probe=THEME_PROBE)["probed"]
    finally:
        context.close()
    assert (probed["theme"], probed["source"]) == ("dark", host)
    assert probed["count"] > 5 and probed["lowest"] >= 4.5, probed
