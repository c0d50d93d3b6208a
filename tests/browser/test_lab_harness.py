"""The browser harness itself, on a minimal anywidget defined inside the notebook: it renders in
JupyterLab, state travels both ways, the harness sees a stray notebook shortcut, and a failing
cell fails the run with its traceback."""

from __future__ import annotations

import time

import pytest

from .canvas import assert_drawn, canvas_summary

pytestmark = pytest.mark.browser

PROBE_WIDGET = r'''
import anywidget
import traitlets


class Probe(anywidget.AnyWidget):
    _esm = """
    export default {
      render({ model, el }) {
        const root = document.createElement('div');
        root.dataset.testid = 'probe';
        const make = (tag, testid, guarded) => {
          const node = document.createElement(tag);
          node.dataset.testid = testid;
          if (guarded) node.setAttribute('data-lm-suppress-shortcuts', 'true');
          root.append(node);
          return node;
        };
        const guarded = make('input', 'guarded', true);
        guarded.type = 'range';
        const bare = make('input', 'bare', false);
        bare.type = 'range';
        const button = make('button', 'bump', true);
        button.textContent = 'bump';
        const label = make('span', 'clicks', false);
        const canvas = make('canvas', 'picture', false);
        canvas.width = 64; canvas.height = 48;
        const context = canvas.getContext('2d');
        const gradient = context.createLinearGradient(0, 0, 64, 48);
        gradient.addColorStop(0, 'red'); gradient.addColorStop(0.5, 'lime'); gradient.addColorStop(1, 'blue');
        context.fillStyle = gradient; context.fillRect(0, 0, 64, 48);
        const show = () => { label.textContent = String(model.get('clicks')); };
        const bump = () => { model.set('clicks', model.get('clicks') + 1); model.save_changes(); };
        button.addEventListener('click', bump);
        model.on('change:clicks', show);
        show();
        el.append(root);
        return () => { button.removeEventListener('click', bump); model.off('change:clicks', show); };
      }
    };
    """
    clicks = traitlets.Int(0).tag(sync=True)


probe = Probe()
probe
'''
CELLS = ["before = 1", PROBE_WIDGET, "after = 2"]
WIDGET_CELL = 1


@pytest.fixture(scope="module")
def probe_notebook(lab):
    notebook = lab.open("harness_probe.ipynb", CELLS)
    yield notebook
    lab.close(notebook)


@pytest.fixture(scope="module")
def kernel(lab, probe_notebook):
    return lab.probe(probe_notebook)


def test_widget_renders_with_a_drawn_canvas(probe_notebook):
    page = probe_notebook.page
    page.get_by_test_id("probe").wait_for(state="visible")
    assert page.get_by_test_id("clicks").text_content() == "0"
    assert_drawn(canvas_summary(page, "[data-testid=picture]"), "probe canvas")
    assert probe_notebook.execution_counts() == [1, 2, 3]


def test_state_travels_both_ways(probe_notebook, kernel):
    page = probe_notebook.page
    for _ in range(3):
        page.get_by_test_id("bump").click()
    deadline = time.monotonic() + 20
    while kernel.evaluate("probe.clicks") != 3:
        assert time.monotonic() < deadline, "the kernel never saw the three clicks"
        time.sleep(0.2)
    kernel.run("probe.clicks = 10")
    page.wait_for_function("() => document.querySelector('[data-testid=clicks]').textContent === '10'", timeout=20_000)
    assert probe_notebook.execution_counts() == [1, 2, 3], "the second client moved the notebook's execution count"


def test_shortcut_guard_is_needed_and_detected(probe_notebook):
    """Keys on a guarded control leave the notebook alone; the same key on an unguarded one runs a
    notebook command, which proves the harness can see the pitfall."""
    page = probe_notebook.page
    probe_notebook.set_active_cell(WIDGET_CELL)
    before = probe_notebook.notebook_state()
    assert before == {"active": WIDGET_CELL, "mode": "command", "cells": 3}
    page.get_by_test_id("guarded").focus()
    for key in ("ArrowDown", "ArrowUp", "ArrowDown", "Enter"):
        page.keyboard.press(key)
    assert probe_notebook.notebook_state() == before
    page.get_by_test_id("bare").focus()
    page.keyboard.press("ArrowDown")
    assert probe_notebook.notebook_state() != before, "an unguarded control should let JupyterLab take ArrowDown"


def test_a_failing_cell_fails_the_run_with_its_traceback(lab):
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        notebook = lab.open("harness_failing.ipynb", ["x = 1", "1 / 0", "y = 2"], run=False)
        try:
            notebook.run_all()
        finally:
            lab.close(notebook)
