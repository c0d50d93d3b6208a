"""The static-page harness on the probe widget: it renders, a click reaches the fake model, and the
ledger sees a listener that a cleanup forgets."""

from __future__ import annotations

import pytest

from .probe_widget import LEAKY_ESM, PROBE_ESM
from .static_page import render_widget, serve

pytestmark = pytest.mark.browser


@pytest.fixture
def static_page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    serve(page, {"/probe.js": PROBE_ESM, "/leaky.js": LEAKY_ESM})
    yield page
    context.close()


def test_cleanup_removes_every_listener(static_page):
    report = render_widget(
        static_page, "/probe.js", {"clicks": 4}, actions=[{"selector": "[data-testid=bump]", "event": "click"}]
    )
    assert report["rendered"]["listeners"] == 2 and report["rendered"]["model_callbacks"] == 1
    assert {"probe", "clicks", "picture"} <= set(report["rendered"]["testids"])
    assert report["saved"] == 1
    assert report["after"] == {"listeners": 0, "model_callbacks": 0, "leftover": []}


def test_a_forgotten_listener_is_reported(static_page):
    report = render_widget(static_page, "/leaky.js", {"clicks": 0})
    assert report["after"]["leftover"] == ["Window:resize"]
