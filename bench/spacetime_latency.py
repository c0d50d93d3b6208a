"""Latency of the volume and clip views in the browser, in real JupyterLab: from an event in the
page to changed pixels.

The shipped SolidsCNN on two 32^3 volumes and MotionCNN on two clips of 8 frames of 32 px, in a
notebook served by a throw-away JupyterLab (the browser tests' harness), driven by Debian's
Chromium. Each change is made in the page as a person would; the clock runs in the page from just
before the event to the first animation frame at which the watched canvas holds different pixels:

* slice change: the axial slider's input event (drawn in the browser from the volume sent once);
* frame change: a click on a bar of the energy chart (drawn in the browser from the frames sent once);
* method change on a volume: the method menu's change event (a round trip to the kernel, whose
  capture is cached).

Targets: slice and frame changes <= 50 ms, a method change on a volume <= 1 s.

    .venv/bin/python bench/spacetime_latency.py           # 12 changes of each kind
    .venv/bin/python bench/spacetime_latency.py --quick   # 3

Prints a table and writes bench/results/spacetime_latency.md.
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

from browser_latency import UNTIL_NEW_PIXELS  # noqa: E402
from report import publish  # noqa: E402  (bench/report.py)

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Lab  # noqa: E402
from tests.browser.server import JupyterServer  # noqa: E402

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "spacetime_latency.md"
TARGETS_MS = {"slice": 50.0, "frame": 50.0, "method (volume)": 1000.0}
METHODS = [
    "GradCAMPlusPlus",
    "LayerCAM",
    "EigenCAM",
    "GradCAM",
]  # each draws another map (XGradCAM would draw GradCAM's: the head pools)
CELLS = [
    "import torch\nimport camwidgets as cw\n"
    "from camwidgets.data.solids import make_solids\nfrom camwidgets.data.motion import make_motion_clips\n"
    "from camwidgets.data.spacetime_models import load_solids_cnn, load_motion_cnn\n"
    "solids, solid_names = load_solids_cnn()\nmotion, motion_names = load_motion_cnn()",
    "volume = cw.CAMExplorer(solids, list(make_solids(2, seed=3).volumes), labels=solid_names, task='multilabel')\nvolume",
    "clip = cw.CAMExplorer(motion, [c.transpose(1, 2, 3, 0) for c in make_motion_clips(2, seed=3).clips], labels=motion_names)\nclip",
]

# JS: make the change (`action` with `value`) and resolve with the milliseconds until the watched
# canvas first shows other pixels.
MEASURE = (
    "async ([action, value]) => {"
    + UNTIL_NEW_PIXELS
    + """
  const views = document.querySelectorAll('.cw-explorer');
  const volume = views[0], clip = views[1];
  const canvas = action === 'frame' ? clip.querySelector('[data-testid=cw-frame]') : volume.querySelector('[data-testid=cw-slice-axial]');
  const act = {
    slice: () => { const input = volume.querySelector('[data-testid=cw-slider-axial]');
      input.value = String(value); input.dispatchEvent(new Event('input', { bubbles: true })); },
    frame: () => clip.querySelectorAll('[data-testid=cw-energy-bar]')[value].click(),
    method: () => { const select = [...volume.querySelectorAll('label.cw-dropdown')]
        .find((node) => node.querySelector('.cw-field-label')?.textContent === 'Method').querySelector('select');
      select.selectedIndex = [...select.options].findIndex((option) => option.textContent.replace(/\\u00a0/g, ' ').startsWith(value + ' — '));
      select.dispatchEvent(new Event('change', { bubbles: true })); },
  }[action];
  return await untilNewPixels(canvas, act, `${action} ${value}`);
}"""
)


def measure(lab: Lab, repeats: int) -> dict[str, list[float]]:
    notebook = lab.open("spacetime_latency.ipynb", CELLS)
    page = notebook.page
    page.locator(".cw-explorer").nth(1).wait_for(state="visible", timeout=120_000)
    kernel = lab.probe(notebook)
    kernel.wait_for("clip.result is not None", True, timeout=120)
    page.locator(".cw-explorer").nth(0).scroll_into_view_if_needed()
    slices = [10 + (i % 2) * 10 + i % 7 for i in range(repeats)]  # never the slice shown
    frames = [i % 8 for i in range(1, repeats + 1)]
    results = {"slice": [], "frame": [], "method (volume)": []}
    for value in slices:
        results["slice"].append(page.evaluate(MEASURE, ["slice", value]))
        page.wait_for_timeout(100)
    page.locator(".cw-explorer").nth(1).scroll_into_view_if_needed()
    for value in frames:
        results["frame"].append(page.evaluate(MEASURE, ["frame", value]))
        page.wait_for_timeout(100)
    page.locator(".cw-explorer").nth(0).scroll_into_view_if_needed()
    for index in range(repeats):
        results["method (volume)"].append(page.evaluate(MEASURE, ["method", METHODS[index % len(METHODS)]]))
        kernel.evaluate("1")
        page.wait_for_timeout(300)
    error = kernel.evaluate("volume.overlay.error")
    if error:
        raise RuntimeError(f"method changes failed: {error}")
    return results


def report(results: dict[str, list[float]], quick: bool) -> str:
    rows = []
    for kind, target in TARGETS_MS.items():
        times = results[kind]
        median = statistics.median(times)
        where = "kernel round trip (capture cached)" if kind.startswith("method") else "browser only"
        rows.append(
            f"| {kind} | {where} | {median:.0f} ({min(times):.0f}–{max(times):.0f}) | ≤ {target:.0f} ms | {'met' if median <= target else 'NOT met'} |"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return "\n".join([
        f"# Volume and clip views: latency in the browser ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)",
        "",
        f"SolidsCNN on 2 volumes of 32^3, MotionCNN on 2 clips of 8 x 32 x 32, JupyterLab with headless Chromium; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.1f} at the end."
        + (" Quick smoke run: too few repeats for conclusions." if quick else ""),
        "",
        "Milliseconds from the event in the page to the first animation frame with new pixels on the watched canvas; median (min–max).",
        "",
        "| change | path | JupyterLab | target | |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 changes of each kind (a smoke test)")
    parser.add_argument("--repeats", type=int, default=12)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        server = JupyterServer(Path(base)).start()
        try:
            lab = Lab(server, browser)
            results = measure(lab, 3 if args.quick else args.repeats)
            lab.close_all()
        finally:
            server.stop()
            browser.close()
    publish(report(results, args.quick), RESULTS_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
