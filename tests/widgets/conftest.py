"""Widget test helpers: a recording comm (what the kernel would send to the browser), simulated
front-end messages, and small explorers on the shared seeded model."""

from __future__ import annotations

import threading

import ipywidgets
import pytest
import torch
from comm import DummyComm

from camwidgets.engine.maps import finish_maps
from camwidgets.engine.methods.registry import MethodSpec
from camwidgets.engine.progress import Progress
from tests.conftest import Small, seeded


class RecordingComm(DummyComm):
    """A comm that keeps every message the kernel publishes: (msg_type, data, buffers)."""

    sent: list = []

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        RecordingComm.sent.append((self.comm_id, msg_type, data, list(buffers or [])))


@pytest.fixture(autouse=True)
def recording_comm(monkeypatch):
    RecordingComm.sent = []
    monkeypatch.setattr(ipywidgets.widgets.widget.comm, "create_comm", lambda *a, **k: RecordingComm(*a, **k))
    return RecordingComm


def send_update(widget, buffers=None, **state) -> None:
    """The front end changed traits (``buffers`` as binary buffers at ``buffer_paths``)."""
    paths = [[name] for name in (buffers or {})]
    widget._handle_msg(
        {
            "content": {"data": {"method": "update", "state": state, "buffer_paths": paths}},
            "buffers": list((buffers or {}).values()),
        }
    )


def send_custom(widget, content, buffers=()) -> None:
    """The front end sent ``model.send(content)``."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": list(buffers)})


def _messages(widget, method: str) -> list[tuple[dict, list]]:
    return [
        (data, buffers)
        for comm_id, _, data, buffers in RecordingComm.sent
        if comm_id == widget.comm.comm_id and data and data.get("method") == method
    ]


def replies(widget, kind: str | None = None) -> list[dict]:
    """Custom messages the kernel sent to ``widget``'s front end (of one ``type``, or all)."""
    contents = [data.get("content", {}) for data, _ in _messages(widget, "custom")]
    return [content for content in contents if kind is None or content.get("type") == kind]


def state_updates(widget, trait: str) -> list[tuple[dict, list]]:
    """(data, buffers) of every kernel -> browser update of ``widget`` that carried ``trait``."""
    return [
        (data, buffers)
        for data, buffers in _messages(widget, "update")
        if trait in data.get("state", {}) or [trait] in data.get("buffer_paths", [])
    ]


@pytest.fixture
def tiny_model():
    return seeded(Small)


@pytest.fixture
def tiny_images():
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))


@pytest.fixture
def explorer(tiny_model, tiny_images):
    from camwidgets import CAMExplorer

    return CAMExplorer(tiny_model, tiny_images)


def slow_test_method(
    name: str, class_name: str, steps: int, started: threading.Event, release: threading.Event, stop_when_released: bool
) -> MethodSpec:
    """A slow test-only method: ``steps`` progress steps (cancellable at each), each waiting up to 20 ms
    for ``release`` (ending early once released if ``stop_when_released``); its map is the channel mean."""

    def slow(call):
        capture = call.explainer.capture(call.input_tensor, call.targets, need_gradients=False)
        with Progress(steps, name, call.progress) as progress:
            for _ in range(steps):
                started.set()
                if release.wait(0.02) and stop_when_released:
                    break
                progress.advance()
        raw = [record.activation.mean(dim=1) for record in capture.records]
        return finish_maps(raw, capture.image_size, call.explainer.normalise, call.explainer.aggregate)

    return MethodSpec(
        name=name,
        class_name=class_name,
        family="perturbation",
        needs_gradients=False,
        cost=float(steps),
        summary="test only",
        run=slow,
    )
