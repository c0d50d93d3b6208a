"""Custom messages from the front end: ``{"type": ..., "id": ...}`` routed to a handler by ``type``.

The front end sends data only. A message whose type has no handler, or that is not a dict, is
ignored and logged; a handler's ValueError/TypeError (or an arithmetic error) is answered with ``{"type", "id", "error"}``;
success with ``{"type", "id", "ok": True, ...}``. Handlers validate every field they read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["MessageRouter", "logger", "require", "is_finite_number"]

logger = logging.getLogger("camwidgets.widgets")

Handler = Callable[[dict], "dict | None"]


def require(content: dict, key: str, kind: type | tuple[type, ...]) -> Any:
    """``content[key]`` if it has type ``kind`` (bool is not an int), else ValueError."""
    value = content.get(key)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ValueError(f"message field {key!r} must be {' or '.join(k.__name__ for k in kinds)}")
    return value


def is_finite_number(value: Any) -> bool:
    """True for an int or float (not a bool) that is finite as a float: JSON's integers have no
    size limit, and ``10**400`` overflows ``float()`` and ``math.isfinite``, so it is not one."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _request_id(content: dict) -> Any:
    request_id = content.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, (int, str, type(None))):
        return None
    return request_id if not isinstance(request_id, str) else request_id[:64]


class MessageRouter:
    """Attach to a widget: ``MessageRouter(widget, {"select": handler, ...})``."""

    def __init__(self, widget: Any, handlers: dict[str, Handler]) -> None:
        self.widget = widget
        self.handlers = dict(handlers)
        self.ignored = 0
        widget.on_msg(self.receive)

    def receive(self, widget: Any, content: Any, buffers: Any = None) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        handler = self.handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            self.ignored += 1
            logger.warning("ignored a front-end message of unknown form: %.200r", content)
            return
        request_id = _request_id(content)
        try:
            reply = handler(content) or {}
        except (ValueError, TypeError, KeyError, ArithmeticError) as error:  # ArithmeticError: a number too large
            logger.info("rejected %s message: %s", kind, error)
            self.widget.send({"type": kind, "id": request_id, "error": str(error)})
            return
        self.widget.send({"type": kind, "id": request_id, "ok": True, **reply})
