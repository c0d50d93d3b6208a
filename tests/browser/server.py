"""A throw-away JupyterLab server for browser tests.

It listens on a free loopback port with no token, and every Jupyter directory (config, data,
runtime, settings, workspaces, IPython) points into a temporary folder, so nothing on the machine
or in the user's profile changes its behaviour. The settings written here remove known sources of
flakiness: the news pop-up, autosave, and virtual scrolling of notebook cells.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# JupyterLab user settings: plugin id -> settings (written as <id-with-slash>.jupyterlab-settings).
STEADY_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}
START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_settings(settings_dir: Path) -> None:
    for plugin, values in STEADY_SETTINGS.items():
        package, name = plugin.split(":")
        target = settings_dir / package / f"{name}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))


class JupyterServer:
    """A JupyterLab (and Notebook 7) server process serving ``root`` on 127.0.0.1."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "notebooks"
        self.dirs = {name: base / name for name in ("config", "data", "runtime", "settings", "workspaces", "ipython")}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = base / "server.log"
        self.process: subprocess.Popen | None = None

    @property
    def runtime_dir(self) -> Path:
        return self.dirs["runtime"]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.dirs["config"]),
            JUPYTER_DATA_DIR=str(self.dirs["data"]),
            JUPYTER_RUNTIME_DIR=str(self.dirs["runtime"]),
            JUPYTERLAB_SETTINGS_DIR=str(self.dirs["settings"]),
            JUPYTERLAB_WORKSPACES_DIR=str(self.dirs["workspaces"]),
            IPYTHONDIR=str(self.dirs["ipython"]),
            PYDEVD_DISABLE_FILE_VALIDATION="1",
        )
        env.pop("JUPYTER_TOKEN", None)
        return env

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]

    def start(self) -> JupyterServer:
        for path in (self.root, *self.dirs.values()):
            path.mkdir(parents=True, exist_ok=True)
        write_settings(self.dirs["settings"])
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.root,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with code {self.process.returncode} at start.\n{self.log_tail()}"
                )
            try:
                self.api("status")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"JupyterLab did not answer {self.url}/api/status within {START_TIMEOUT_S} s.\n{self.log_tail()}"
        )

    def api(self, path: str, method: str = "GET"):
        """``method`` ``/api/<path>`` and decode the JSON answer (None when empty)."""
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def delete(self, path: str) -> None:
        self.api(path, method="DELETE")

    def kernel_id(self, notebook: str) -> str:
        """The id of the kernel of the session open on ``notebook`` (a path relative to the root)."""
        sessions = [s for s in self.api("sessions") if s["path"] == notebook]
        if len(sessions) != 1:
            raise RuntimeError(
                f"expected one kernel session for {notebook!r}, found {len(sessions)}: {self.api('sessions')}"
            )
        return sessions[0]["kernel"]["id"]

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no server log)"
        return "server log (end):\n" + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the server's own PID (it shuts its kernels down), then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
