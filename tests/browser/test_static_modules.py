"""The explorer's own ES modules (js/*.js) on a plain page with fake models built from the real
Python widgets' state: each renders, survives every control being poked, guards every focusable
control against JupyterLab's shortcuts, and its cleanup removes every listener it added."""

from __future__ import annotations

import anywidget
import numpy as np
import pytest
import torch
from ipywidgets.widgets.widget import _remove_buffers
from torch import nn

from .static_page import render_widget, serve

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
def widget_states():
    """(module path, JS source, state, buffers) of each anywidget of an explorer on a tiny CNN."""
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
    found = []
    for index, widget in enumerate(anywidgets(explorer)):
        state, _, buffers = _remove_buffers(widget.get_state())
        paths = [tuple(path) for path in _remove_buffers(widget.get_state())[1]]
        esm = state.pop("_esm")
        found.append((f"/widget{index}.js", esm, state, dict(zip(paths, buffers)), type(widget).__name__))
    explorer.close_all()
    return found


@pytest.fixture
def static_page(chromium, widget_states):
    context = chromium.new_context()
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    serve(page, {path: esm for path, esm, *_ in widget_states})
    yield page
    context.close()


def test_the_explorer_uses_the_three_modules(widget_states):
    names = {name for *_, name in widget_states}
    assert {"LayerTree", "OverlayView", "ThumbnailGrid"} <= names


def test_every_module_renders_is_guarded_and_cleans_up(static_page, widget_states):
    testids, messages = set(), 0
    for path, _, state, buffers, name in widget_states:
        report = render_widget(static_page, path, state, buffers, poke=True)
        rendered = report["rendered"]
        testids.update(rendered["testids"])
        messages += report["sent"] + report["saved"]
        assert rendered["elements"] > 0, f"{name} rendered nothing"
        assert rendered["listeners"] + rendered["model_callbacks"] > 0, f"{name} listens to nothing"
        assert rendered["unguarded"] == [], f"{name}: focusable controls without data-lm-suppress-shortcuts"
        assert report["after"] == {"listeners": 0, "model_callbacks": 0, "leftover": []}, (
            f"{name} cleanup left {report['after']}"
        )
    assert static_page.errors == []
    assert messages > 0, "poking every control sent nothing to the fake models"
    assert testids >= CONTRACT, f"missing from the DOM: {sorted(CONTRACT - testids)}"


def _tree(widget_states):
    return next((path, state, buffers) for path, esm, state, buffers, kind in widget_states if kind == "LayerTree")


def test_a_late_reply_to_an_older_selection_changes_nothing(static_page, widget_states):
    path, state, buffers = _tree(widget_states)
    first, second = [
        node["path"] for node in state["nodes"] if node["selectable"] and node["path"] not in state["selected"]
    ][:2]
    clicks = [{"selector": f"[data-testid=cw-layer-node][data-path='{p}']", "event": "click"} for p in (first, second)]
    late = clicks + [
        {"message": {"type": "select", "id": 2, "ok": True, "selected": [second]}},
        {"message": {"type": "select", "id": 1, "error": "an old refusal"}},  # arrives after the newer answer
    ]
    report = render_widget(static_page, path, state, buffers, actions=late)
    assert [(m["id"], m["paths"]) for m in report["messages"]] == [(1, [first]), (2, [second])]
    assert report["errors"] == [{"hidden": True, "text": ""}], "a stale reply overwrote the newer view"
    current = clicks + [{"message": {"type": "select", "id": 2, "error": "refused now"}}]
    report = render_widget(static_page, path, state, buffers, actions=current)
    assert report["errors"] == [{"hidden": False, "text": "refused now"}]  # the answer to the latest request shows
