"""Browser tests: one JupyterLab server and one Debian Chromium per session, shared by every test.

Chromium is /usr/bin/chromium (`make install` installs Debian's package when it is missing), never a
browser downloaded by Playwright. A missing browser or a server that does not start fails the
tests loudly; nothing here skips."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from .kernel import KernelProbe, write_notebook
from .lab import NotebookPage
from .server import JupyterServer

CHROMIUM = Path("/usr/bin/chromium")
# Quiet, offline Chromium: no sandbox (root in CI), no GPU, and none of its background requests.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1400, "height": 1000}
SCREENSHOTS = Path(__file__).parent / "screenshots"


class Lab:
    """The shared server and browser; opens notebooks in fresh pages and closes what it opened."""

    def __init__(self, server: JupyterServer, browser) -> None:
        self.server = server
        self.browser = browser
        self._closers: list = []

    def open(self, name: str, cells: list[str], ui: str = "lab", run: bool = True) -> NotebookPage:
        """Write ``cells`` as notebook ``name``, open it in a new page, wait for its kernel, run all."""
        write_notebook(self.server.root, name, cells)
        context = self.browser.new_context(viewport=VIEWPORT)
        self._closers.append(context.close)
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
        page.on("pageerror", lambda error: page.console_errors.append(str(error)))
        notebook = NotebookPage(page, self.server.url, name, ui)
        try:
            notebook.open()
            if run:
                notebook.run_all()
        except Exception as error:
            raise AssertionError(self.diagnosis(notebook, error)) from error
        return notebook

    def diagnosis(self, notebook: NotebookPage, error: Exception) -> str:
        """The error with what the page logged and the end of the server log."""
        console = "\n".join(notebook.page.console_errors[-20:]) or "(none)"
        return f"{notebook.url}: {error}\nbrowser console errors:\n{console}\n{self.server.log_tail()}"

    def probe(self, notebook: NotebookPage) -> KernelProbe:
        """A second client on the notebook's kernel (see `KernelProbe`)."""
        kernel_id = self.server.kernel_id(notebook.path)
        probe = KernelProbe(self.server.runtime_dir / f"kernel-{kernel_id}.json")
        self._closers.append(probe.close)
        return probe

    def close(self, notebook: NotebookPage) -> None:
        """Close the notebook's page and shut its kernel down (frees the kernel's memory)."""
        notebook.page.context.close()
        for session in self.server.api("sessions"):
            if session["path"] == notebook.path:
                self.server.delete(f"sessions/{session['id']}")

    def close_all(self) -> None:
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):  # already closed with its notebook
                close()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    server = JupyterServer(tmp_path_factory.mktemp("jupyterlab")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make install` (it installs Debian's chromium) or `apt-get install -y chromium`"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def lab(lab_server, chromium):
    shared = Lab(lab_server, chromium)
    yield shared
    shared.close_all()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
