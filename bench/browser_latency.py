"""Latency of CAMExplorer in the browser, in real JupyterLab and in marimo: from a click in the page
to changed pixels.

resnet50 with seeded random weights, the four bundled photos at 224x224 (one batch), in a notebook
served by a throw-away JupyterLab (the browser tests' harness) and in a marimo app (``marimo run``,
``mo.ui.anywidget``), each driven by Debian's Chromium. Each change is made in the page as a person
would (a select's change event, a click on a tree row or a thumbnail, the opacity slider's input
event); the clock runs in the page from just before the event to the first animation frame at which
the overlay canvas holds different pixels, so it includes the message to the kernel, the computation,
the binary buffers back and the drawing. Between changes the kernel finishes what the change set
going (the layer sweep) and the page rests:

* method change (cycling over five methods): served from the cached forward/backward;
* layer click in the tree (cycling over layer4's blocks, capture cache cleared first);
* target change (the first image's top classes, capture cache cleared first);
* image switch (a gallery click: maps already computed for the batch);
* colormap and opacity: drawn in the browser, no kernel round trip;
* first render: from the widget's root element entering the page to the first frame with the map drawn.

Targets on this CPU: browser-only changes <= 50 ms, a method switch and an image switch <= 300 ms, a
layer or target change <= 1.5 s, the first render <= 1.5 s.

    .venv/bin/python bench/browser_latency.py                 # both hosts
    .venv/bin/python bench/browser_latency.py --host marimo   # one
    .venv/bin/python bench/browser_latency.py --quick         # smoke test: 2 repeats

Prints a table and writes bench/results/browser_latency.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import textwrap
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the browser tests' harness lives in tests/browser

from report import publish  # noqa: E402  (bench/report.py)

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Lab  # noqa: E402
from tests.browser.hosts import marimo  # noqa: E402
from tests.browser.server import JupyterServer  # noqa: E402

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "browser_latency.md"
TARGETS_MS = {
    "method": 300.0,
    "layer": 1500.0,
    "target": 1500.0,
    "image": 300.0,
    "colormap": 50.0,
    "opacity": 50.0,
    "first render": 1500.0,
}
KERNEL_SIDE = {"method", "layer", "target"}  # the others change nothing in the kernel's maps
# consecutive methods draw different maps (at resnet50's last blocks, whose gradient is uniform in
# space, HiResCAM and XGradCAM draw GradCAM's map and GradCAMElementWise LayerCAM's)
METHODS = ["GradCAM", "GradCAMPlusPlus", "LayerCAM", "EigenCAM", "GradCAMElementWise"]
LAYERS = [
    "layer4.2",
    "layer4.1",
    "layer4.0",
    "layer3",
]  # layer4.2 is suggested, so layer4's rows are open; layer4 would draw layer4.2's map
COLORMAPS = ["jet", "viridis", "inferno", "turbo"]
SETUP = (
    "import torch, torchvision\nimport camwidgets as cw\n"
    "torch.manual_seed(0)\nmodel = torchvision.models.resnet50(weights=None).eval()"
)
EXPLORER = "cw.CAMExplorer(model, cw.photo_names(), labels=[str(i) for i in range(1000)])"
CELLS = [SETUP, f"explorer = {EXPLORER}\nexplorer"]
# the same in marimo; a button clears the capture cache between layer and target changes, and the
# explorer's state is read back from a cell that shows it
MARIMO_APP = f"""import marimo

app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo
{textwrap.indent(SETUP, "    ")}
    explorer = {EXPLORER}
    view = mo.ui.anywidget(explorer)
    clear = mo.ui.button(label="clear the capture cache", on_click=lambda _: explorer.session.cache.clear())
    mo.vstack([clear, view])
    return


if __name__ == "__main__":
    app.run()
"""

# JS shared by the measurements: the explorer's elements wherever they are (marimo draws widgets in
# shadow roots), found once per call.
FIND = """
const deepFind = (selector, root = document) => {
  const found = root.querySelector(selector);
  if (found) return found;
  for (const node of root.querySelectorAll('*')) {
    if (node.shadowRoot) { const inner = deepFind(selector, node.shadowRoot); if (inner) return inner; }
  }
  return null;
};
"""

# JS shared with bench/spacetime_latency.py: run `act` and resolve with the milliseconds until
# `canvas` first shows other pixels, checked at every animation frame.
UNTIL_NEW_PIXELS = """
const untilNewPixels = (canvas, act, what) => {
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const digest = () => {
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 1) sum = (sum * 31 + data[i]) | 0;
    return sum;
  };
  const before = digest();
  const started = performance.now();
  act();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (digest() !== before) resolve(performance.now() - started);
      else if (performance.now() - started > 60000) reject(new Error(`${what}: no new pixels within 60 s`));
      else requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  });
};
"""

# JS: make the change (`action` with `value`) and resolve with the milliseconds until the overlay
# canvas first shows other pixels.
MEASURE = (
    "async ([action, value]) => {"
    + FIND
    + UNTIL_NEW_PIXELS
    + """
  const canvas = deepFind('[data-testid=cw-overlay-canvas]');
  const scope = canvas.getRootNode();
  const dropdown = (description) => [...scope.querySelectorAll('.cw-explorer label.cw-dropdown')]
    .find((node) => node.querySelector('.cw-field-label')?.textContent === description).querySelector('select');
  const choose = (select, index) => { select.selectedIndex = index; select.dispatchEvent(new Event('change', { bubbles: true })); };
  const act = {
    method: () => { const select = dropdown('Method');
      choose(select, [...select.options].findIndex((option) => option.textContent.replace(/\u00a0/g, ' ').startsWith(value + ' — '))); },
    target: () => choose(dropdown('Target'), value),
    layer: () => scope.querySelector(`[data-testid=cw-layer-node][data-path='${value}']`).click(),
    image: () => scope.querySelector(`[data-testid=cw-gallery-item][data-key='${value}']`).click(),
    colormap: () => { const select = scope.querySelector('[data-testid=cw-colormap]');
      select.value = value; select.dispatchEvent(new Event('change', { bubbles: true })); },
    opacity: () => { const input = scope.querySelector('[data-testid=cw-opacity]');
      input.value = String(value); input.dispatchEvent(new Event('input', { bubbles: true })); },
  }[action];
  return await untilNewPixels(canvas, act, `${action} ${value}`);
}
"""
)

# JS, run before the explorer's cell: at every animation frame, note when the cell's output enters
# the page (JupyterLab: an output in the last code cell; marimo: its anywidget element) and when the
# explorer's overlay first holds a drawn map (window.cwFirstRender, in ms).
FIRST_RENDER = (
    "(() => {"
    + FIND
    + """
  let appeared = null;
  const look = () => {
    // the cell's output: JupyterLab's widget output area, marimo's anywidget element
    const cells = document.querySelectorAll('.jp-CodeCell');  // the explorer's cell is the last one
    const output = cells.length ? cells[cells.length - 1].querySelector('.jp-OutputArea-output') : document.querySelector('marimo-anywidget');
    if (output && appeared === null) appeared = performance.now();
    const root = deepFind('.cw-app');
    const canvas = root && root.querySelector('[data-testid=cw-overlay-canvas]');
    if (canvas && canvas.width > 1) {
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      if (data.some((v, i) => i % 4 !== 3 && v > 0)) { window.cwFirstRender = performance.now() - appeared; return; }
    }
    requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
})()
"""
)


def changes(kind: str, repeats: int) -> list:
    """The values one kind of change cycles through (never the current one twice in a row)."""
    cycle = {
        "method": METHODS[1:] + METHODS[:1],
        "layer": LAYERS[1:] + LAYERS[:1],
        "target": [2, 3, 4, 5],
        "image": ["1", "2", "3", "0"],
        "colormap": COLORMAPS[1:] + COLORMAPS[:1],
        "opacity": [0.8, 0.3, 0.65, 0.45],
    }[kind]
    return [cycle[i % len(cycle)] for i in range(repeats)]


class LabHost:
    """The explorer in a JupyterLab notebook; the kernel probe reads and drives it."""

    name = "JupyterLab"

    def __init__(self, browser, base: Path) -> None:
        self.server = JupyterServer(base).start()
        self.lab = Lab(self.server, browser)

    def open(self):
        notebook = self.lab.open("browser_latency.ipynb", CELLS, run=False)
        self.page = notebook.page
        self.page.evaluate(FIRST_RENDER)
        notebook.run_all()
        self.page.wait_for_function("() => window.cwFirstRender !== undefined", timeout=120_000)
        self.kernel = self.lab.probe(notebook)
        self.kernel.wait_for("explorer.result is not None", True, timeout=120)
        return self.page

    def settle(self, kind: str) -> None:
        """Let the kernel finish what a change set going (the layer sweep of a new image or target)."""
        self.kernel.evaluate("1")
        self.page.wait_for_timeout(300)

    def reset(self) -> None:
        self.kernel.run("explorer.set(method='gradcam', layers=['layer4.2'])")  # a class-specific method

    def clear_cache(self) -> None:
        self.kernel.run("explorer.session.cache.clear()")  # a fresh forward and backward, as for a new layer

    def error(self) -> str:
        return self.kernel.evaluate("explorer.overlay.error")

    def close(self) -> None:
        self.lab.close_all()
        self.server.stop()


class MarimoHost:
    """The explorer in a marimo app (``marimo run``): driven through its page only."""

    name = "marimo"

    def __init__(self, browser, base: Path) -> None:
        notebook = base / "browser_latency_marimo.py"
        notebook.write_text(MARIMO_APP)
        self.server = marimo(notebook, base).__enter__()
        self.context = browser.new_context(viewport={"width": 1400, "height": 1400})

    def open(self):
        self.page = self.context.new_page()
        self.page.add_init_script(FIRST_RENDER)
        self.page.goto(self.server.url)
        self.page.wait_for_function("() => window.cwFirstRender !== undefined", timeout=180_000)
        self.page.locator("[data-testid=cw-layer-node][data-path='layer4.2']").wait_for(state="visible")
        return self.page

    def settle(self, kind: str) -> None:
        """No kernel probe here: wait as long as the layer sweep of a new image or target takes."""
        self.page.wait_for_timeout(1500 if kind in KERNEL_SIDE | {"image"} else 300)

    def reset(self) -> None:
        for kind, value in (("method", "GradCAM"), ("layer", "layer4.2")):
            status = self.page.locator("[data-testid=cw-status]").first.text_content()
            if value not in status.split(" · "):
                self.page.evaluate(MEASURE, [kind, value])
                self.settle(kind)

    def clear_cache(self) -> None:
        self.page.get_by_role("button", name="clear the capture cache").click()
        self.page.wait_for_timeout(300)

    def error(self) -> str:
        return self.page.locator("[data-testid=cw-error]").first.text_content()

    def close(self) -> None:
        self.context.close()
        self.server.__exit__()


def measure(host, repeats: int) -> dict[str, list[float]]:
    page = host.open()
    results: dict[str, list[float]] = {"first render": [page.evaluate("() => window.cwFirstRender")]}
    for kind, there, back in (
        ("layer", LAYERS[1], LAYERS[0]),
        ("method", METHODS[1], METHODS[0]),
    ):  # warm-up, ending where it began
        for value in (there, back):
            page.evaluate(MEASURE, [kind, value])
            host.settle(kind)
    for kind in TARGETS_MS:
        if kind == "first render":
            continue
        results[kind] = []
        host.reset()
        host.settle(kind)
        for value in changes(kind, repeats):
            if kind in ("layer", "target"):
                host.clear_cache()
            results[kind].append(page.evaluate(MEASURE, [kind, value]))
            host.settle(kind)
        if kind in KERNEL_SIDE and host.error():
            raise RuntimeError(f"{host.name}: {kind} changes failed: {host.error()}")
    return results


def report(results: dict[str, dict[str, list[float]]], quick: bool) -> str:
    hosts = list(results)
    rows = []
    for kind in TARGETS_MS:
        where = (
            "kernel round trip"
            if kind in KERNEL_SIDE
            else {"image": "kernel round trip (maps cached)", "first render": "page"}.get(kind, "browser only")
        )
        cells = []
        for host in hosts:
            times = results[host][kind]
            median = statistics.median(times)
            met = "met" if median <= TARGETS_MS[kind] else "NOT met"
            cells.append(f"{median:.0f} ({min(times):.0f}–{max(times):.0f}) {met}")
        rows.append(f"| {kind} | {where} | {' | '.join(cells)} | ≤ {TARGETS_MS[kind]:.0f} ms |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = [
        f"# CAMExplorer latency in the browser ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)",
        "",
        f"resnet50 (seeded random weights), 4 photos at 224x224 in one batch, {' and '.join(hosts)} with headless Chromium on one machine; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.1f} at the end; Python {sys.version.split()[0]}."
        + (" Quick smoke run: too few repeats for conclusions." if quick else ""),
        "",
        "Milliseconds from the event in the page to the first animation frame showing new pixels on the overlay canvas",
        "(first render: from the cell's output entering the page to the explorer's first drawn map); median (min–max).",
        "Layer and target changes run with the capture cache cleared first (a fresh forward and backward).",
        "",
        f"| change | path | {' | '.join(hosts)} | target |",
        f"|---|---|{'---|' * len(hosts)}---|",
    ]
    return "\n".join(header + rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 repeats per kind of change (a smoke test)")
    parser.add_argument("--repeats", type=int, default=8, help="changes per kind (default 8)")
    parser.add_argument("--host", choices=["jupyterlab", "marimo", "both"], default="both")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: run `make install`")
    from playwright.sync_api import sync_playwright

    hosts = [LabHost, MarimoHost] if args.host == "both" else [LabHost if args.host == "jupyterlab" else MarimoHost]
    results: dict[str, dict[str, list[float]]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            for kind in hosts:  # one host at a time: two would share the machine's two cores
                with tempfile.TemporaryDirectory(prefix="camwidgets-latency-") as base:
                    host = kind(browser, Path(base))
                    try:
                        results[host.name] = measure(host, 2 if args.quick else args.repeats)
                    finally:
                        host.close()
        finally:
            browser.close()
    publish(report(results, args.quick), RESULTS_FILE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
