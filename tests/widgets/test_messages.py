"""Simulated front-end messages: trait updates, custom request/response messages, binary buffers;
malformed messages change nothing and the widget keeps working."""

from __future__ import annotations

import numpy as np
import pytest

from camwidgets.engine.methods.registry import METHODS
from tests.conftest import hook_count

from .conftest import replies, send_custom, send_update, state_updates


def view_of(explorer) -> tuple:
    return (
        explorer.state,
        explorer.overlay.heatmap,
        explorer.overlay.revision,
        explorer.overlay.opacity,
        explorer.overlay.colormap,
        explorer.overlay.mode,
    )


def test_maps_and_photos_travel_as_binary_buffers(explorer):
    explorer.set(method="layercam")
    data, buffers = state_updates(explorer.overlay, "heatmap")[-1]
    state = explorer.overlay
    assert [len(b) for b in buffers] == [state.width * state.height]  # the map, not a JSON list
    assert bytes(buffers[0]) == explorer.result.levels[explorer.state.image].tobytes()
    assert data["buffer_paths"] == [["heatmap"]] and "heatmap" not in data["state"]
    explorer.set(image=1)
    photo_data, photo_buffers = state_updates(explorer.overlay, "photo")[-1]
    assert photo_data["buffer_paths"] == [["photo"], ["heatmap"]] or ["photo"] in photo_data["buffer_paths"]
    assert any(len(b) == state.width * state.height * 3 for b in photo_buffers)


def test_view_settings_from_the_browser_need_no_computation(explorer):
    revision, cache_runs = explorer.overlay.revision, explorer.session.cache.forward_passes
    send_update(explorer.overlay, opacity=0.8, colormap="viridis", mode="heatmap")
    assert (explorer.overlay.opacity, explorer.overlay.colormap, explorer.overlay.mode) == (0.8, "viridis", "heatmap")
    assert explorer.overlay.revision == revision and explorer.session.cache.forward_passes == cache_runs


def test_standard_controls_drive_the_view(explorer):
    methods = [value for _, value in explorer.controls.method.options]
    send_update(explorer.controls.method, index=methods.index("gradcam++"))
    assert explorer.state.method == "gradcam++"
    assert explorer.overlay.status.startswith("GradCAMPlusPlus · head_conv · ")
    top = explorer.session.top_classes(0)[1][0]
    send_update(explorer.controls.target, index=2)  # options: top class of each image, then the top-k
    assert explorer.state.target == top and explorer.session.labels[top] in explorer.overlay.status
    send_update(explorer.controls.eigen_smooth, value=True)
    send_update(explorer.controls.normalise, index=1)
    assert (explorer.state.eigen_smooth, explorer.state.normalise) == (True, "batch")


def test_layer_select_and_pick_are_answered_with_the_request_id(explorer):
    send_custom(explorer.tree, {"type": "select", "id": 41, "paths": ["stem", "head_conv"]})
    assert explorer.state.layers == ("stem", "head_conv")
    assert replies(explorer.tree, "select")[-1] == {
        "type": "select",
        "id": 41,
        "ok": True,
        "selected": ["stem", "head_conv"],
    }
    send_custom(explorer.gallery, {"type": "pick", "id": "g1", "key": "1"})
    assert explorer.state.image == 1
    assert explorer.overlay.photo == explorer.session.images.photos[1].tobytes()
    send_custom(explorer.controls.find_class, {})  # a stray message to a standard control: ignored
    explorer.controls.find_class.value = f"{explorer.session.labels[3]} (3)"
    assert explorer.state.target == 3


MALFORMED = [
    ("tree", "custom", {"type": "select", "id": 1, "paths": ["no.such.layer"]}),
    ("tree", "custom", {"type": "select", "id": 2, "paths": ["fc"]}),  # exists, but no spatial output
    ("tree", "custom", {"type": "select", "id": 3, "paths": ["__class__"]}),
    ("tree", "custom", {"type": "select", "id": 4, "paths": ["stem.__init__.__globals__"]}),
    ("tree", "custom", {"type": "select", "id": 5, "paths": "stem"}),
    ("tree", "custom", {"type": "select", "id": 6, "paths": [1, 2]}),
    ("tree", "custom", {"type": "select", "id": 7, "paths": []}),
    ("tree", "custom", {"type": "select", "id": 8, "paths": ["stem", "stem"]}),
    ("tree", "custom", {"type": "select", "id": 9}),
    ("tree", "custom", {"type": "eval", "id": 10, "code": "import os"}),
    ("tree", "custom", "select stem"),
    ("tree", "custom", ["select"]),
    ("tree", "update", {"selected": ["fc"]}),
    ("tree", "update", {"selected": []}),
    ("tree", "update", {"selected": "head_conv"}),
    ("gallery", "custom", {"type": "pick", "id": 1, "key": "7"}),
    ("gallery", "custom", {"type": "pick", "id": 1, "key": 1}),
    ("gallery", "update", {"selected": "-1"}),
    ("sweep", "custom", {"type": "pick", "id": 2, "key": "fc"}),
    ("overlay", "update", {"opacity": 2.0}),
    ("overlay", "update", {"opacity": -0.1}),
    ("overlay", "update", {"opacity": None}),
    ("overlay", "update", {"opacity": "0.5; rm -rf /"}),
    ("overlay", "update", {"colormap": "hsv"}),
    ("overlay", "update", {"mode": "<script>"}),
    ("overlay", "custom", {"type": "cancel!", "id": 1}),
    ("method", "update", {"index": 999}),
    ("method", "update", {"index": -5}),
    ("target", "update", {"index": 10_000}),
    ("normalise", "update", {"index": 7}),
]


def _widget(explorer, name):
    if name in ("method", "target", "normalise"):
        return getattr(explorer.controls, name)
    return getattr(explorer, name)


@pytest.mark.parametrize(
    "name, kind, payload", MALFORMED, ids=[f"{n}-{k}-{i}" for i, (n, k, _) in enumerate(MALFORMED)]
)
def test_malformed_messages_change_nothing(explorer, tiny_model, name, kind, payload):
    before = view_of(explorer)
    widget = _widget(explorer, name)
    if kind == "custom":
        send_custom(widget, payload)
    else:
        send_update(widget, **payload)
    assert view_of(explorer) == before
    assert explorer.tree.selected == list(explorer.state.layers)
    assert hook_count(tiny_model) == 0
    if kind == "custom" and isinstance(payload, dict) and payload.get("type") in ("select", "pick"):
        answer = replies(widget, payload["type"])[-1]
        assert answer["id"] == payload["id"] and answer["error"] and "ok" not in answer
    explorer.set(method="xgradcam")  # and the widget still works
    assert explorer.state.method == "xgradcam" and explorer.overlay.revision == before[2] + 1


def test_unknown_messages_are_logged_and_counted(explorer, caplog):
    with caplog.at_level("WARNING", logger="camwidgets.widgets"):
        send_custom(explorer.overlay, {"type": "run_python", "code": "1/0"})
    assert explorer.overlay.router.ignored == 1
    assert "ignored a front-end message" in caplog.text


def test_python_set_rejects_bad_values_without_changes(explorer):
    before = view_of(explorer)
    bad = [
        {"method": "not_a_method"},
        {"layers": ["fc"]},
        {"layers": []},
        {"target": 5},
        {"target": True},
        {"image": 2},
        {"image": -1},
        {"eigen_smooth": "yes"},
        {"normalise": "l2"},
        {"colour": "red"},
    ]
    for change in bad:
        with pytest.raises((ValueError, TypeError)):
            explorer.set(**change)
    assert view_of(explorer) == before
    assert set(METHODS) >= {explorer.state.method}


def test_heatmap_bytes_decode_to_the_shown_map(explorer):
    levels = explorer.overlay.levels()
    expected = np.rint(np.clip(explorer.result.maps[0], 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(levels, expected)


def test_the_tabs_take_only_a_tab_that_exists(explorer):
    tabs = explorer.panels.tabs
    send_update(tabs, selected_index=2)
    assert tabs.selected_index == 2
    for bad in (5, -1, "1", 2.5):
        send_update(tabs, selected_index=bad)
        assert tabs.selected_index == 2, bad
    assert tabs.refused_updates >= 4
