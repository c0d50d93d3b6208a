"""Build the documentation site into ``build/site`` (``make docs``), in mkdocs' strict mode.

The site's source is assembled in ``build/docs-src`` from:

* ``docs/pages``: the hand-written pages, and the README as the home page (its links turned into
  the site's);
* the tutorials, executed: ``build/tutorials/NAME.ipynb`` as ``make test``'s notebook run left it
  (run there with ``--overwrite`` on copies), else executed here with nbclient; a failing cell fails
  the build. Their pictures come with them;
* tables made from their sources, so that they cannot drift: the methods from the registry, the
  models from the zoo matrix's last results (``build/zoo-results.json``, written by
  ``tests/engine/test_model_zoo.py``);
* saved explorers (``CAMExplorer.to_html``: no kernel, no network), framed at the top of the
  tutorial that builds the same explorer, so that it can be tried in the page.

    .venv/bin/python docs/build.py            # assemble and build
    .venv/bin/python docs/build.py --serve    # assemble, then mkdocs serve
    .venv/bin/python docs/build.py --draft    # tutorials as they are when none was executed (quick)
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = ROOT / "docs" / "pages"
CONFIG = ROOT / "docs" / "mkdocs.yml"
NOTEBOOKS = ROOT / "notebooks"
EXECUTED = ROOT / "build" / "tutorials"
SOURCE = ROOT / "build" / "docs-src"
ZOO_RESULTS = ROOT / "build" / "zoo-results.json"
CELL_TIMEOUT = 600


# -- tutorials ------------------------------------------------------------------------------------
def executed_tutorial(notebook: Path, draft: bool = False) -> dict:
    """The notebook with its outputs: the copy ``make test`` executed when it is newer than the source,
    else executed now (cwd: ``notebooks/``); with ``draft``, the source as it is instead."""
    import nbformat

    copy = EXECUTED / notebook.name
    if copy.is_file() and copy.stat().st_mtime >= notebook.stat().st_mtime and _has_outputs(copy):
        return nbformat.read(copy, as_version=4)
    if draft:
        return nbformat.read(notebook, as_version=4)
    from nbclient import NotebookClient

    print(f"executing {notebook.name} ...", flush=True)
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    EXECUTED.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, copy)
    return nb


def _has_outputs(path: Path) -> bool:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return any(cell.get("outputs") for cell in cells if cell["cell_type"] == "code")


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = "*An interactive widget: it runs in the notebook (the explorers save a picture of themselves, shown where they do).*"


def without_live_widgets(nb: dict) -> dict:
    """The notebook as a static page shows it: no saved widget state (it would load the widget manager
    from a CDN), each widget output as the picture it saved, or a note where it saved none."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW not in data:
                continue
            output["data"] = {"image/png": data["image/png"]} if "image/png" in data else {"text/markdown": WIDGET_NOTE}
    return nb


def embed_cell(page: str, title: str, height: int) -> dict:
    """A markdown cell that frames a saved explorer page (relative to ``tutorials/``)."""
    import nbformat

    text = (
        f"## Try it here\n\n{html.escape(title)} It runs in this page, with no kernel: switch the colormap, "
        "the opacity or the mode, or click another image.\n\n"
        f'<iframe class="cw-embedded-explorer" src="../explorers/{page}" title="{html.escape(title)}" '
        f'style="width: 100%; height: {height}px; border: 1px solid #8884;" loading="lazy"></iframe>\n'
    )
    cell = nbformat.v4.new_markdown_cell(text)
    cell.id = "try-it-here"
    return cell


# -- saved explorers --------------------------------------------------------------------------------
def photo_explorer(path: Path) -> None:
    """Tutorial 02's explorer: the pretrained mobilenet_v2 on the four bundled photos, GradCAM."""
    import camwidgets as cw
    from camwidgets.pretrained import load_model

    model, _ = load_model("mobilenet_v2")
    cw.CAMExplorer(model, ["chelsea", "coffee", "astronaut", "rocket"]).to_html(path)


#: tutorial file -> (saved page, what it is, frame height in px, how to build it)
EMBEDDED: dict[str, tuple[str, str, int, Callable[[Path], None]]] = {
    "02_explorer.ipynb": (
        "photos.html",
        "The explorer this tutorial builds (pretrained mobilenet_v2, the four bundled photos), saved with "
        "`explorer.to_html(path)`.",
        760,
        photo_explorer,
    ),
}


# -- generated tables ------------------------------------------------------------------------------
def method_table() -> str:
    """Every registered method: class, family, what it needs, forwards per image, what it computes, paper."""
    from camwidgets.engine import METHODS

    lines = [
        "| class | family | gradients | forwards per image (512 channels) | what it computes | paper |",
        "|---|---|---|---:|---|---|",
    ]
    for spec in METHODS.values():
        passes = spec.forwards_per_image(512)
        paper = f"[paper]({spec.paper})" if spec.paper else ""
        lines.append(
            f"| `{spec.class_name}` | {spec.family} | {'yes' if spec.needs_gradients else 'no'} | {passes:g} "
            f"| {_cell(spec.summary)} | {paper} |"
        )
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text for a Markdown table cell: its own ``|`` escaped."""
    return text.replace("|", "\\|")


def model_table() -> str:
    """The zoo matrix's last results: suggested layer and layout per model family, and the check's outcome."""
    if not ZOO_RESULTS.is_file():
        return (
            "*No results yet: `make test` runs the zoo matrix (`tests/engine/test_model_zoo.py`) and writes "
            "them before the site is built.*"
        )
    results = json.loads(ZOO_RESULTS.read_text(encoding="utf-8"))
    lines = [
        f"Results of `tests/engine/test_model_zoo.py` in the run of {results['when']} (torch {results['torch']}).",
        "",
        "| model | task | suggested layer | layout | GradCAM and EigenCAM from `target_layers=None` |",
        "|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(f"| {row['name']} | {row['task']} | `{row['layer']}` | {row['layout']} | {row['outcome']} |")
    return "\n".join(lines)


GENERATED = {"<!-- methods table -->": method_table, "<!-- models table -->": model_table}


# -- assembly ----------------------------------------------------------------------------------------
def front_page() -> str:
    """The README with its links into ``docs/pages``, ``notebooks/images`` and the tutorials made the site's."""
    lines = [line for line in README.read_text(encoding="utf-8").splitlines() if "](docs/pages)" not in line]
    text = "\n".join(lines) + "\n"
    text = text.replace("](docs/pages/", "](").replace("](notebooks/images/", "](images/")
    text = re.sub(r"\]\(notebooks/(\d\d_\w+\.ipynb)\)", r"](tutorials/\1)", text)
    return text.replace("](notebooks)", "](tutorials/01_quickstart.ipynb)")


def assemble(draft: bool = False) -> None:
    import nbformat

    if SOURCE.exists():
        shutil.rmtree(SOURCE)
    shutil.copytree(PAGES, SOURCE)
    (SOURCE / "index.md").write_text(front_page(), encoding="utf-8")
    shutil.copytree(NOTEBOOKS / "images", SOURCE / "images")
    for page in SOURCE.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        for marker, make in GENERATED.items():
            if marker in text:
                text = text.replace(marker, make())
        page.write_text(text, encoding="utf-8")
    (SOURCE / "tutorials").mkdir()
    (SOURCE / "explorers").mkdir()
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = without_live_widgets(executed_tutorial(notebook, draft))
        if notebook.name in EMBEDDED:
            page, title, height, build = EMBEDDED[notebook.name]
            build(SOURCE / "explorers" / page)
            nb.cells.insert(1, embed_cell(page, title, height))
        nbformat.write(nb, SOURCE / "tutorials" / notebook.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", action="store_true", help="serve the site with live reload instead of building it")
    parser.add_argument("--draft", action="store_true", help="tutorials without outputs where none were executed")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    assemble(args.draft)
    mkdocs = [sys.executable, "-m", "mkdocs"]
    command = [*mkdocs, "serve", "-f", str(CONFIG)] if args.serve else [*mkdocs, "build", "--strict", "-f", str(CONFIG)]
    return subprocess.call(command, cwd=ROOT)


if __name__ == "__main__":
    raise SystemExit(main())
