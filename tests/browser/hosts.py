"""Other notebook hosts as throw-away servers for browser tests: marimo (``marimo run``) and Voila.

Each listens on a free loopback port with no token and its own temporary folders, and is stopped
(its whole process group) at the end of the ``with`` block."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .server import free_port

START_TIMEOUT_S = 120


class HostServer:
    """``python -m <module> <args>`` serving one notebook at ``url``; ``log`` says what it printed."""

    def __init__(self, module: str, args: list[str], base: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.base = base
        self.log_path = base / f"{module}.log"
        self.command = [sys.executable, "-m", module, *[a.format(port=self.port) for a in args]]
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> HostServer:
        folders = {name: self.base / name for name in ("config", "data", "runtime", "ipython", "home")}
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        environment = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(folders["config"]),
            "JUPYTER_DATA_DIR": str(folders["data"]),
            "JUPYTER_RUNTIME_DIR": str(folders["runtime"]),
            "IPYTHONDIR": str(folders["ipython"]),
            "XDG_CONFIG_HOME": str(folders["home"]),
            "MARIMO_SKIP_UPDATE_CHECK": "1",
        }
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            self.command, stdout=self.log, stderr=subprocess.STDOUT, env=environment, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{' '.join(self.command)} exited: {self.text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=5):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"{' '.join(self.command)} did not answer in {START_TIMEOUT_S} s: {self.text()[-2000:]}")

    def text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(15)
        self.log.close()


def marimo(notebook: Path, base: Path) -> HostServer:
    """``marimo run`` of a ``.py`` notebook: the app as a reader sees it (no code)."""
    return HostServer("marimo", ["run", str(notebook), "--headless", "--port", "{port}", "--no-token"], base)


def voila(notebook: Path, base: Path) -> HostServer:
    """Voila serving an ``.ipynb`` notebook as a web app (outputs only)."""
    return HostServer(
        "voila",
        [
            str(notebook),
            "--no-browser",
            "--port={port}",
            "--Voila.ip=127.0.0.1",
            "--VoilaConfiguration.file_allowlist=['.*']",
        ],
        base,
    )
