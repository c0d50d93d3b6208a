"""Text from the model and the file system reaches the page as text: a class label, a module name,
an exception message and a file path, each holding markup whose image handler would set a global,
are shown literally in a real JupyterLab, and no element of theirs exists in the DOM.

A control cell puts the same kind of markup into a plain ``ipywidgets.HTML`` on purpose, so the test
proves it would see an injected element."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import MARKUP as PAYLOAD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

MODEL = f"""
import pathlib, sys, tempfile
import ipywidgets, torch
sys.path.insert(0, {str(ROOT)!r})
import camwidgets as cw
from tests.conftest import MARKUP as PAYLOAD, MarkedUp

torch.manual_seed(0)
images = torch.randn(2, 3, 32, 32)
explorer = cw.CAMExplorer(MarkedUp().eval(), images, labels=[PAYLOAD, "b", "c"], target_layers=[PAYLOAD])
explorer.set(target=0)
panels = explorer.panels
panels.guided.compute()
panels.concepts.compute()
panels.metrics.methods.value, panels.metrics.layers.value = ("gradcam",), (PAYLOAD,)
panels.metrics.start()
assert explorer.wait(120)
folder = pathlib.Path(tempfile.mkdtemp())
panels.export.path.value = str(folder / PAYLOAD)
panels.export.save()
broken = cw.CAMExplorer(MarkedUp().eval(), images)
def fail(module, inputs):
    raise RuntimeError(PAYLOAD)
handle = broken.session.model.register_forward_pre_hook(fail)
broken.panels.guided.compute()
handle.remove()
"""
SHOW = "from camwidgets.widgets.parts import Column, PartsWidget\nPartsWidget(Column([panels.guided.box, panels.concepts.box, panels.metrics.table, panels.export.box, broken.panels.guided.message]))"
CONTROL = "ipywidgets.HTML('<b class=cwcontrol>control</b>')"


def test_markup_in_labels_module_names_errors_and_paths_stays_text(lab):
    notebook = lab.open("escaping.ipynb", [MODEL, SHOW, CONTROL])
    try:
        page = notebook.page
        page.locator("b.cwcontrol").wait_for(state="attached", timeout=60_000)  # raw HTML does become elements
        for marker in ("for GradCAM · ", "concepts at ", "rank", "saved ", "RuntimeError: "):  # every panel has drawn
            page.wait_for_function("(t) => document.body.innerText.includes(t)", arg=marker, timeout=60_000)
        assert page.locator("img.cwxss").count() == 0, "markup from the kernel became an element"
        assert page.evaluate("() => typeof window.cwXss") == "undefined", "an injected handler ran"
        body = page.evaluate("() => document.body.innerText")
        for where, text in {
            "guided (layer, label)": f"for GradCAM · {PAYLOAD} · {PAYLOAD}",
            "concepts (layer)": f"concepts at {PAYLOAD}",
            "export (path)": f"/{PAYLOAD}.png",
            "error (exception)": f"RuntimeError: {PAYLOAD}",
        }.items():
            assert text in body, f"{where}: {text!r} is not shown as text"
        table = page.locator(".jp-OutputArea-output pre", has_text="rank")
        assert PAYLOAD in table.first.inner_text()  # the metrics table names the layer, in its <pre> layout
    finally:
        lab.close(notebook)
