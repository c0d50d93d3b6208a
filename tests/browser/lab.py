"""Drive a notebook in a real JupyterLab (or Notebook 7) page with Playwright.

`open_notebook` opens it in a fresh workspace (so no earlier tab is restored), waits until the
notebook's own kernel is connected and idle (the toolbar's idle indicator says idle before the
kernel connects), and `run_all` runs every cell and waits until each code cell has an execution
count and the kernel is idle again; a cell that raised fails the test with its traceback."""

from __future__ import annotations

import json
import uuid

from playwright.sync_api import Page

LOAD_TIMEOUT_MS = 90_000
RUN_TIMEOUT_MS = 240_000

# JS: the current notebook panel, if it shows `path`.
_PANEL = """(path) => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  return panel && panel.context && panel.context.path === path && panel.sessionContext ? panel : null;
}"""

_KERNEL_READY = f"""(path) => {{
  const panel = ({_PANEL})(path);
  const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}}"""

# JS: 'done', an error report, or false while cells are still queued or running.
_RUN_STATE = f"""(path) => {{
  const panel = ({_PANEL})(path);
  const cells = panel.content.widgets.filter(cell => cell.model.type === 'code');
  for (const cell of cells) {{
    const failed = cell.model.outputs.toJSON().find(output => output.output_type === 'error');
    if (failed) return {{ename: failed.ename, evalue: failed.evalue, traceback: failed.traceback.join('\\n')}};
  }}
  const kernel = panel.sessionContext.session.kernel;
  const counted = cells.every(cell => cell.model.executionCount !== null);
  return counted && kernel.status === 'idle' ? 'done' : false;
}}"""


class NotebookPage:
    """One notebook open in a browser page, in JupyterLab (`ui="lab"`) or Notebook 7 (`ui="notebook"`)."""

    def __init__(self, page: Page, base_url: str, path: str, ui: str = "lab") -> None:
        self.page = page
        self.path = path
        if ui == "lab":
            self.url = f"{base_url}/lab/workspaces/{uuid.uuid4().hex}/tree/{path}"
        elif ui == "notebook":
            self.url = f"{base_url}/notebooks/{path}"
        else:
            raise ValueError(f"ui must be 'lab' or 'notebook', not {ui!r}")

    def open(self) -> NotebookPage:
        self.page.goto(self.url, timeout=LOAD_TIMEOUT_MS)
        self.page.wait_for_function(_KERNEL_READY, arg=self.path, timeout=LOAD_TIMEOUT_MS, polling=200)
        return self

    def run_all(self) -> None:
        self.command("notebook:run-all-cells")
        handle = self.page.wait_for_function(
            f"(path) => ({_RUN_STATE})(path)", arg=self.path, timeout=RUN_TIMEOUT_MS, polling=250
        )
        state = handle.json_value()
        if state != "done":
            raise AssertionError(
                f"a cell of {self.path} raised {state['ename']}: {state['evalue']}\n{state['traceback']}"
            )

    def command(self, name: str, args: dict | None = None) -> None:
        self.page.evaluate("([name, args]) => window.jupyterapp.commands.execute(name, args)", [name, args or {}])

    def evaluate_on_panel(self, body: str):
        """Evaluate JS ``body`` (an expression using ``panel``) on the notebook panel."""
        return self.page.evaluate(f"(path) => {{ const panel = ({_PANEL})(path); return {body}; }}", self.path)

    def notebook_state(self) -> dict:
        """Active cell index and mode, the things a stray notebook shortcut would change."""
        return self.evaluate_on_panel(
            "({active: panel.content.activeCellIndex, mode: panel.content.mode, cells: panel.content.widgets.length})"
        )

    def set_active_cell(self, index: int) -> None:
        self.evaluate_on_panel(f"(panel.content.mode = 'command', panel.content.activeCellIndex = {json.dumps(index)})")

    def execution_counts(self) -> list:
        return self.evaluate_on_panel(
            "panel.content.widgets.filter(c => c.model.type === 'code').map(c => c.model.executionCount)"
        )
