"""Test notebooks on disk, and a second client on a notebook's kernel to read what Python sees."""

from __future__ import annotations

import ast
import queue
import time
from pathlib import Path

import nbformat
from jupyter_client import BlockingKernelClient


def write_notebook(root: Path, name: str, cells: list[str]) -> str:
    """Write code ``cells`` (source strings) as ``root/name`` with the python3 kernelspec; returns ``name``."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(notebook, root / name)
    return name


class KernelProbe:
    """A second client connected to the kernel a notebook page started.

    Requests run with ``store_history=False`` so the notebook's execution count does not move."""

    def __init__(self, connection_file: Path) -> None:
        self.client = BlockingKernelClient()
        self.client.load_connection_file(str(connection_file))
        self.client.start_channels()
        self.client.wait_for_ready(timeout=30)

    def close(self) -> None:
        self.client.stop_channels()

    def evaluate(self, expression: str, timeout: float = 60):
        """The Python literal value of ``expression`` in the kernel (it must evaluate to a literal)."""
        reply = self._request("", timeout, user_expressions={"value": expression})
        result = reply["content"]["user_expressions"]["value"]
        if result["status"] != "ok":
            raise AssertionError(f"kernel could not evaluate {expression!r}: {result['ename']}: {result['evalue']}")
        return ast.literal_eval(result["data"]["text/plain"])

    def wait_for(self, expression: str, expected, timeout: float = 60):
        """Poll ``expression`` until it equals ``expected``; fails with the last value seen."""
        deadline = time.monotonic() + timeout
        while (value := self.evaluate(expression)) != expected:
            if time.monotonic() > deadline:
                raise AssertionError(f"kernel: {expression} is {value!r}, expected {expected!r} within {timeout} s")
            time.sleep(0.2)
        return value

    def run(self, code: str, timeout: float = 120) -> None:
        """Run ``code`` in the kernel and wait for it; a Python error there fails the test."""
        self._request(code, timeout)

    def start(self, code: str) -> str:
        """Send ``code`` without waiting; returns the message id to pass to ``finished``/``wait``."""
        return self.client.execute(code, store_history=False)

    def finished(self) -> bool:
        """Whether a reply to the one request sent with `start` has arrived (does not wait)."""
        return self.client.shell_channel.msg_ready()

    def wait(self, msg_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = self.client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no reply from the kernel within {timeout} s") from None
            if reply["parent_header"].get("msg_id") != msg_id:
                continue
            if reply["content"]["status"] != "ok":
                content = reply["content"]
                raise AssertionError(f"kernel error: {content.get('ename')}: {content.get('evalue')}")
            return reply

    def _request(self, code: str, timeout: float, **options) -> dict:
        msg_id = self.client.execute(code, store_history=False, **options)
        return self.wait(msg_id, timeout)
