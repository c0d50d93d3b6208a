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
from camwidgets.widgets.parts import SEPARATOR
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


def _address(widget) -> tuple:
    """(the widget model that carries ``widget``'s messages, the trait prefix, the part id): a part
    travels inside the composed widget that mounts it (``p3__name``, ``{"part": "p3"}``)."""
    host = getattr(widget, "_host", None)
    if host is not None:
        return host, widget.part_id + SEPARATOR, widget.part_id
    return widget, "", None


def send_update(widget, buffers=None, **state) -> None:
    """The front end changed traits (``buffers`` as binary buffers at ``buffer_paths``)."""
    model, prefix, _ = _address(widget)
    paths = [[prefix + name] for name in (buffers or {})]
    model._handle_msg(
        {
            "content": {
                "data": {
                    "method": "update",
                    "state": {prefix + name: value for name, value in state.items()},
                    "buffer_paths": paths,
                }
            },
            "buffers": list((buffers or {}).values()),
        }
    )


def send_custom(widget, content, buffers=()) -> None:
    """The front end sent ``model.send(content)``."""
    model, _, part = _address(widget)
    if part is not None and isinstance(content, dict):
        content = {**content, "part": part}
    model._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": list(buffers)})


def _messages(widget, method: str) -> list[tuple[dict, list]]:
    model, _, _ = _address(widget)
    return [
        (data, buffers)
        for comm_id, _, data, buffers in RecordingComm.sent
        if comm_id == model.comm.comm_id and data and data.get("method") == method
    ]


def replies(widget, kind: str | None = None) -> list[dict]:
    """Custom messages the kernel sent to ``widget``'s front end (of one ``type``, or all)."""
    _, _, part = _address(widget)
    contents = [data.get("content", {}) for data, _ in _messages(widget, "custom")]
    if part is not None:
        contents = [{k: v for k, v in c.items() if k != "part"} for c in contents if c.get("part") == part]
    return [content for content in contents if kind is None or content.get("type") == kind]


def state_updates(widget, trait: str) -> list[tuple[dict, list]]:
    """(data, buffers) of every kernel -> browser update of ``widget`` that carried ``trait`` (a
    part's traits named as the part names them)."""
    _, prefix, _ = _address(widget)
    found = []
    for data, buffers in _messages(widget, "update"):
        state = {key[len(prefix) :]: value for key, value in data.get("state", {}).items() if key.startswith(prefix)}
        paths = [
            [path[0][len(prefix) :], *path[1:]] for path in data.get("buffer_paths", []) if path[0].startswith(prefix)
        ]
        if trait in state or [trait] in paths:
            found.append(({**data, "state": state, "buffer_paths": paths}, buffers))
    return found


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
