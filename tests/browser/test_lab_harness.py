"""The browser harness itself, on a minimal anywidget defined inside the notebook: it renders in
JupyterLab, state travels both ways, the harness sees a stray notebook shortcut, and a failing
cell fails the run with its traceback."""

from __future__ import annotations

import time

import pytest

from .canvas import assert_drawn, canvas_summary
from .probe_widget import PROBE_CELL

pytestmark = pytest.mark.browser

CELLS = ["before = 1", PROBE_CELL, "after = 2"]
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


def test_notebook_7_ui_runs_and_renders_the_probe(lab):
    notebook = lab.open("harness_probe_nb7.ipynb", CELLS, ui="notebook")
    try:
        assert "/notebooks/" in notebook.page.url
        notebook.page.get_by_test_id("probe").wait_for(state="visible")
        assert notebook.page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"
        assert_drawn(canvas_summary(notebook.page, "[data-testid=picture]"), "probe canvas in Notebook 7")
    finally:
        lab.close(notebook)
