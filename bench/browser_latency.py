"""Latency of CAMExplorer in real JupyterLab and Chromium: from a click in the page to changed pixels.

resnet50 with seeded random weights, the four bundled photos at 224x224 (one batch), in a notebook
served by a throw-away JupyterLab (the browser tests' harness) and driven by Debian's Chromium. Each
change is made in the page as a person would (a select's change event, a click on a tree row or a
thumbnail, the opacity slider's input event); the clock runs in the page from just before the event
to the first animation frame at which the overlay canvas holds different pixels, so it includes the
message to the kernel, the computation, the binary buffers back and the drawing. Between changes the
kernel finishes what the change set going (the layer sweep) and the page rests 0.3 s:

* method change (cycling over five methods): served from the cached forward/backward;
* layer click in the tree (cycling over layer4's blocks, capture cache cleared first);
* target change (the first image's top classes, capture cache cleared first);
* image switch (a gallery click: maps already computed for the batch);
* colormap and opacity: drawn in the browser, no kernel round trip.

Targets on this CPU: browser-only changes <= 50 ms, a method switch <= 300 ms, a layer or target
change <= 1.5 s.

    .venv/bin/python bench/browser_latency.py            # full run
    .venv/bin/python bench/browser_latency.py --quick    # smoke test: 2 repeats

Prints a table and writes bench/results/browser_latency.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the browser tests' harness lives in tests/browser

from report import publish  # noqa: E402  (bench/report.py)

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Lab  # noqa: E402
from tests.browser.server import JupyterServer  # noqa: E402

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "browser_latency.md"
TARGETS_MS = {"method": 300.0, "layer": 1500.0, "target": 1500.0, "image": 300.0, "colormap": 50.0, "opacity": 50.0}
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
CELLS = [
    "import torch, torchvision\nimport camwidgets as cw\n"
    "torch.manual_seed(0)\nmodel = torchvision.models.resnet50(weights=None).eval()",
    "explorer = cw.CAMExplorer(model, cw.photo_names(), labels=[str(i) for i in range(1000)])\nexplorer",
]

# JS: make the change (`action` with `value`) and resolve with the milliseconds until the overlay
# canvas first shows other pixels, checked at every animation frame.
MEASURE = """
async ([action, value]) => {
  const canvas = document.querySelector('[data-testid=cw-overlay-canvas]');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const digest = () => {
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 1) sum = (sum * 31 + data[i]) | 0;
    return sum;
  };
  const dropdown = (description) => [...document.querySelectorAll('.cw-explorer label.cw-dropdown')]
    .find((node) => node.querySelector('.cw-field-label')?.textContent === description).querySelector('select');
  const choose = (select, index) => { select.selectedIndex = index; select.dispatchEvent(new Event('change', { bubbles: true })); };
  const act = {
    method: () => { const select = dropdown('Method');
      choose(select, [...select.options].findIndex((option) => option.textContent.replace(/\u00a0/g, ' ').startsWith(value + ' — '))); },
    target: () => choose(dropdown('Target'), value),
    layer: () => document.querySelector(`[data-testid=cw-layer-node][data-path='${value}']`).click(),
    image: () => document.querySelector(`[data-testid=cw-gallery-item][data-key='${value}']`).click(),
    colormap: () => { const select = document.querySelector('[data-testid=cw-colormap]');
      select.value = value; select.dispatchEvent(new Event('change', { bubbles: true })); },
    opacity: () => { const input = document.querySelector('[data-testid=cw-opacity]');
      input.value = String(value); input.dispatchEvent(new Event('input', { bubbles: true })); },
  }[action];
  const before = digest();
  const started = performance.now();
  act();
  return await new Promise((resolve, reject) => {
    const check = () => {
      if (digest() !== before) resolve(performance.now() - started);
      else if (performance.now() - started > 60000) reject(new Error(`${action} ${value}: no new pixels within 60 s`));
      else requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  });
}
"""


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


def settle(page, kernel) -> None:
    """Let the kernel finish what a change set going after its map (the layer sweep of a new image
    or target) and pause as a person would before the next change."""
    kernel.evaluate("1")
    page.wait_for_timeout(300)


def measure(lab: Lab, repeats: int) -> dict[str, list[float]]:
    notebook = lab.open("browser_latency.ipynb", CELLS)
    page = notebook.page
    page.locator(".cw-explorer [data-testid=cw-overlay-canvas]").wait_for(state="visible")
    kernel = lab.probe(notebook)
    kernel.wait_for("explorer.result is not None", True, timeout=120)
    page.locator("[data-testid=cw-layer-node][data-path='layer4.2']").wait_for(state="visible")
    for kind, there, back in (
        ("layer", LAYERS[1], LAYERS[0]),
        ("method", METHODS[1], METHODS[0]),
    ):  # warm-up, ending where it began
        for value in (there, back):
            page.evaluate(MEASURE, [kind, value])
            settle(page, kernel)
    results: dict[str, list[float]] = {}
    for kind in TARGETS_MS:
        results[kind] = []
        kernel.run(
            "explorer.set(method='gradcam', layers=['layer4.2'])"
        )  # a class-specific method (EigenCAM ignores targets)
        settle(page, kernel)
        for value in changes(kind, repeats):
            if kind in ("layer", "target"):
                kernel.run("explorer.session.cache.clear()")  # a fresh forward and backward, as for a new layer
            results[kind].append(page.evaluate(MEASURE, [kind, value]))
            settle(page, kernel)
        if kind in KERNEL_SIDE and kernel.evaluate("explorer.overlay.error"):
            raise RuntimeError(f"{kind} changes failed: {kernel.evaluate('explorer.overlay.error')}")
    lab.close(notebook)
    return results


def report(results: dict[str, list[float]], quick: bool) -> str:
    rows = []
    for kind, times in results.items():
        median = statistics.median(times)
        met = "met" if median <= TARGETS_MS[kind] else "NOT met"
        where = (
            "kernel round trip"
            if kind in KERNEL_SIDE
            else ("kernel round trip (maps cached)" if kind == "image" else "browser only")
        )
        rows.append(
            f"| {kind} | {where} | {len(times)} | {median:.0f} | {min(times):.0f} | {max(times):.0f} | ≤ {TARGETS_MS[kind]:.0f} ms: {met} |"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = [
        f"# CAMExplorer latency in the browser ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)",
        "",
        f"resnet50 (seeded random weights), 4 photos at 224x224 in one batch, JupyterLab and headless Chromium on one machine; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.1f} at the end; Python {sys.version.split()[0]}."
        + (" Quick smoke run: too few repeats for conclusions." if quick else ""),
        "",
        "Milliseconds from the event in the page to the first animation frame showing new pixels on the overlay canvas.",
        "Layer and target changes run with the capture cache cleared first (a fresh forward and backward).",
        "",
        "| change | path | repeats | median ms | min ms | max ms | target |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    return "\n".join(header + rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 repeats per kind of change (a smoke test)")
    parser.add_argument("--repeats", type=int, default=8, help="changes per kind (default 8)")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: run `make install`")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="camwidgets-latency-") as base, sync_playwright() as playwright:
        server = JupyterServer(Path(base)).start()
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        lab = Lab(server, browser)
        try:
            results = measure(lab, 2 if args.quick else args.repeats)
        finally:
            lab.close_all()
            browser.close()
            server.stop()
    publish(report(results, args.quick), RESULTS_FILE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
