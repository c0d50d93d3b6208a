"""The documentation site (``docs/build.py``, ``make docs``): built in strict mode from the executed
tutorials, the registry and the zoo matrix's results; a broken link or a failing notebook fails the
build; a tutorial page's embedded explorer switches its colormap in Chromium with no kernel and no
network, and the site asks for nothing outside itself."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from camwidgets.engine import METHODS

from .canvas import assert_drawn, canvas_summary
from .test_standalone_page import changed_after

pytestmark = [pytest.mark.browser, pytest.mark.docs_site, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "build" / "site"
CANVAS = "#cw-page-app [data-testid=cw-overlay-canvas]"


def _builder():
    spec = importlib.util.spec_from_file_location("docs_build", ROOT / "docs" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mkdocs(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-f", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def site() -> Path:
    built = subprocess.run([sys.executable, "docs/build.py"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    return SITE


def test_the_site_is_made_from_the_registry_the_zoo_matrix_and_the_executed_tutorials(site):
    methods = (site / "methods.html").read_text(encoding="utf-8")
    assert all(f"<code>{spec.class_name}</code>" in methods for spec in METHODS.values())
    zoo = ROOT / "build" / "zoo-results.json"
    models = (site / "models.html").read_text(encoding="utf-8")
    if zoo.is_file():  # written by the zoo matrix earlier in the same run
        rows = json.loads(zoo.read_text())["rows"]
        assert len(rows) >= 40 and all(f"<code>{row['layer']}</code>" in models for row in rows)
    quickstart = (site / "tutorials" / "01_quickstart.html").read_text(encoding="utf-8")
    assert quickstart.count("data:image/png;base64,") >= 2  # the executed tutorial's pictures
    assert "camwidgets.Explainer" in (site / "api.html").read_text(encoding="utf-8")  # from the docstrings
    home = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="methods.html"' in home and "docs/pages" not in home  # the README's links made the site's
    for host in ("jupyterlab", "notebook", "marimo", "voila", "static"):
        assert (site / "hosts" / f"{host}.html").is_file()


def test_a_broken_link_fails_the_strict_build(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "index.md").write_text("# Home\n\nSee [the methods](methods.md).\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(
        textwrap.dedent(f"""\
        INHERIT: {ROOT / "docs" / "mkdocs.yml"}
        docs_dir: {pages}
        site_dir: {tmp_path / "site"}
        nav: [{{Home: index.md}}]
        """)
    )
    broken = _mkdocs(config)
    assert broken.returncode != 0 and "methods.md" in broken.stdout + broken.stderr
    (pages / "methods.md").write_text("# Methods\n")
    config.write_text(
        config.read_text().replace("nav: [{Home: index.md}]", "nav: [{Home: index.md}, {Methods: methods.md}]")
    )
    fixed = _mkdocs(config)
    assert fixed.returncode == 0, fixed.stdout[-2000:] + fixed.stderr[-2000:]


def test_a_failing_tutorial_fails_the_build(tmp_path, monkeypatch):
    import nbformat
    from nbclient.exceptions import CellExecutionError

    builder = _builder()
    monkeypatch.setattr(builder, "EXECUTED", tmp_path / "executed")
    notebook = tmp_path / "99_broken.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise ValueError('a tutorial that no longer runs')")]
    nbformat.write(nb, notebook)
    with pytest.raises(CellExecutionError, match="a tutorial that no longer runs"):
        builder.executed_tutorial(notebook)


def test_a_tutorial_page_runs_its_embedded_explorer_with_no_kernel_and_no_network(site, chromium):
    context = chromium.new_context(viewport={"width": 1300, "height": 1000})
    context.set_offline(True)
    page = context.new_page()
    requests, problems = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        page.goto((site / "tutorials" / "02_explorer.html").as_uri())
        frame_element = page.locator("iframe.cw-embedded-explorer")
        frame_element.scroll_into_view_if_needed()
        frame = frame_element.element_handle().content_frame()
        frame.wait_for_function("document.body.dataset.cwReady === 'true'", timeout=30_000)
        assert frame.get_by_test_id("cw-status").text_content().startswith("GradCAM · features.18")
        before = canvas_summary(frame, CANVAS)
        assert_drawn(before, "the embedded explorer")
        colormap = frame.get_by_test_id("cw-colormap")
        choice = "viridis" if colormap.input_value() != "viridis" else "turbo"
        after = changed_after(frame, lambda: colormap.select_option(choice), before, CANVAS)
        assert_drawn(after, f"the {choice} overlay")
        assert colormap.input_value() == choice
        outside = [url for url in requests if not url.startswith(("file://", "data:", "blob:"))]
        assert outside == [], f"the page asked the network for {outside}"
        assert problems == []
    finally:
        context.close()
