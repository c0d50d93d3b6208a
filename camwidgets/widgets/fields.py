"""The explorers' form controls as parts (:mod:`.parts`), drawn by ``js/fields.js``.

Each keeps the Python face of its ipywidgets namesake that the explorers use (``value``, ``options``,
``description``, ``disabled``, ``observe(..., names="value")``, ``on_click``), so code reads as it
did, while the page gets one widget model. A choice control sends the browser only its option
labels and takes back only an index (or indices): the browser never names a value the kernel did
not offer. Every control is labelled by its ``description`` (``<label>`` or ``aria-label``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import traitlets

from .messages import MessageRouter, is_finite_number
from .parts import Part

__all__ = [
    "Field",
    "Dropdown",
    "ToggleButtons",
    "SelectMultiple",
    "Checkbox",
    "Button",
    "Text",
    "Combobox",
    "IntBox",
    "RangeSlider",
    "FloatSlider",
    "Progress",
    "HTML",
    "Image",
    "Label",
]


class _Options:
    """The (label, value) pairs of a choice control, as given and as pairs."""

    _options: tuple[Any, ...] = ()
    _pairs: Sequence[tuple[str, Any]] = ()

    @property
    def options(self) -> tuple[Any, ...]:
        """The options as given."""
        return self._options

    @property
    def _values(self) -> list[Any]:
        return [value for _, value in self._pairs]


def _pairs(options: Any) -> list[tuple[str, Any]]:
    """Options as (label, value) pairs: pairs stay, plain values label themselves."""
    pairs = []
    for option in options:
        if isinstance(option, (tuple, list)) and len(option) == 2:
            pairs.append((str(option[0]), option[1]))
        else:
            pairs.append((str(option), option))
    return pairs


class Field(Part):
    """A labelled control: ``description`` (its label), ``disabled``, ``tooltip``."""

    description = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    tooltip = traitlets.Unicode("").tag(sync=True)


class _Choice(_Options, Field):
    """One of ``options`` ((label, value) pairs or values): the browser sends ``index``; ``value`` follows."""

    browser_writable = frozenset({"index"})
    labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    index = traitlets.Int(-1).tag(sync=True)
    value = traitlets.Any(None)

    def __init__(self, options: Sequence[Any] = (), value: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = options
        if value is not None:
            self.value = value

    @_Options.options.setter
    def options(self, options: Sequence[Any]) -> None:
        kept = self.value
        self._options = tuple(options)
        self._pairs = _pairs(options)
        values = self._values
        with self.hold_trait_notifications():
            self.labels = [label for label, _ in self._pairs]
            self.index = values.index(kept) if kept in values else (0 if values else -1)

    @traitlets.validate("index")
    def _known_index(self, proposal: dict) -> int:
        index = proposal["value"]
        if not -1 <= index < len(self._pairs):
            raise traitlets.TraitError(f"no option {index}; there are {len(self._pairs)}")
        return index

    @traitlets.observe("index")
    def _index_to_value(self, change: dict) -> None:
        self.value = self._pairs[change["new"]][1] if change["new"] >= 0 else None

    @traitlets.validate("value")
    def _offered_value(self, proposal: dict) -> Any:
        values = self._values
        if proposal["value"] not in values and not (proposal["value"] is None and not values):
            raise traitlets.TraitError(f"{proposal['value']!r} is not one of the options")
        return proposal["value"]

    @traitlets.observe("value")
    def _value_to_index(self, change: dict) -> None:
        values = self._values
        self.index = values.index(change["new"]) if change["new"] in values else -1

    @property
    def label(self) -> str:
        return self._pairs[self.index][0] if self.index >= 0 else ""


class Dropdown(_Choice):
    kind = "dropdown"


class ToggleButtons(_Choice):
    kind = "toggle"


class SelectMultiple(_Options, Field):
    """Several of ``options``: the browser sends ``index`` (a list); ``value`` is the tuple of their values."""

    kind = "multi"
    browser_writable = frozenset({"index"})
    labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    index = traitlets.List(traitlets.Int()).tag(sync=True)
    rows = traitlets.Int(5).tag(sync=True)
    value = traitlets.Tuple()

    def __init__(self, options: Sequence[Any] = (), value: Sequence[Any] = (), **kwargs: Any) -> None:
        self._options = tuple(options)
        self._pairs = _pairs(options)
        super().__init__(labels=[label for label, _ in self._pairs], **kwargs)
        self.value = tuple(value)

    @traitlets.validate("index")
    def _known_indices(self, proposal: dict) -> list[int]:
        if not all(0 <= index < len(self._pairs) for index in proposal["value"]):
            raise traitlets.TraitError(f"an index is not one of the {len(self._pairs)} options")
        return list(dict.fromkeys(proposal["value"]))

    @traitlets.observe("index")
    def _indices_to_value(self, change: dict) -> None:
        self.value = tuple(self._pairs[index][1] for index in change["new"])

    @traitlets.validate("value")
    def _offered_values(self, proposal: dict) -> tuple:
        values = self._values
        missing = [value for value in proposal["value"] if value not in values]
        if missing:
            raise traitlets.TraitError(f"{missing[0]!r} is not one of the options")
        return tuple(proposal["value"])

    @traitlets.observe("value")
    def _value_to_indices(self, change: dict) -> None:
        values = self._values
        self.index = [values.index(value) for value in change["new"]]


class Checkbox(Field):
    kind = "checkbox"
    browser_writable = frozenset({"value"})
    value = traitlets.Bool(False).tag(sync=True)


class Button(Field):
    """A button: ``on_click(callback)``; the browser's ``{"type": "click"}`` calls each (not while disabled)."""

    kind = "button"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clicks: list[Callable[[Button], None]] = []
        self.router = MessageRouter(self, {"click": self._on_click_message})

    def on_click(self, callback: Callable[[Button], None]) -> None:
        self._clicks.append(callback)

    def click(self) -> None:
        """What a click in the browser does."""
        for callback in list(self._clicks):
            callback(self)

    def _on_click_message(self, content: dict) -> dict:
        if self.disabled:
            raise ValueError(f"{self.description!r} is disabled")
        self.click()
        return {}


class Text(Field):
    """A line of text, sent on Enter or when the box loses focus."""

    kind = "text"
    browser_writable = frozenset({"value"})
    value = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("").tag(sync=True)

    @traitlets.validate("value")
    def _short(self, proposal: dict) -> str:
        if len(proposal["value"]) > 4096:
            raise traitlets.TraitError("at most 4096 characters")
        return proposal["value"]


class Combobox(Text):
    """A text box with suggestions (``options``, offered as the browser's own list)."""

    kind = "combobox"
    options = traitlets.List(traitlets.Unicode()).tag(sync=True)


class IntBox(Field):
    """A whole number from ``min`` to ``max`` (a number box: arrow keys stay with it)."""

    kind = "int"
    browser_writable = frozenset({"value"})
    value = traitlets.Int(0).tag(sync=True)
    min = traitlets.Int(0).tag(sync=True)
    max = traitlets.Int(100).tag(sync=True)

    @traitlets.validate("value")
    def _in_range(self, proposal: dict) -> int:
        return max(self.min, min(self.max, proposal["value"]))


class _Scale(Field):
    """A slider's scale: from ``min`` to ``max`` in steps of ``step``; the browser sends ``value``."""

    browser_writable = frozenset({"value"})
    min = traitlets.Float(0.0).tag(sync=True)
    max = traitlets.Float(1.0).tag(sync=True)
    step = traitlets.Float(0.01).tag(sync=True)


class RangeSlider(_Scale):
    """A range ``value`` = (low, high) on the scale."""

    kind = "range"
    value = traitlets.List(traitlets.Float(), default_value=[0.0, 1.0], minlen=2, maxlen=2).tag(sync=True)

    @traitlets.validate("value")
    def _ordered(self, proposal: dict) -> list[float]:
        low, high = (float(v) for v in proposal["value"])
        if not (math.isfinite(low) and math.isfinite(high)):
            raise traitlets.TraitError("a range needs two finite numbers")
        low, high = sorted((max(self.min, min(self.max, low)), max(self.min, min(self.max, high))))
        return [low, high]


class FloatSlider(_Scale):
    """A number on the scale, sent when the handle is let go."""

    kind = "slider"
    value = traitlets.Float(0.0).tag(sync=True)

    @traitlets.validate("value")
    def _in_range(self, proposal: dict) -> float:
        if not math.isfinite(proposal["value"]):
            raise traitlets.TraitError("a slider needs a finite number")
        return max(self.min, min(self.max, proposal["value"]))


class Progress(Field):
    kind = "progress"
    value = traitlets.Float(0.0).tag(sync=True)
    max = traitlets.Float(1.0).tag(sync=True)


class HTML(Part):
    """Markup the kernel wrote (escaped with :func:`~camwidgets.core.text.text_html`); never the browser's."""

    kind = "html"
    value = traitlets.Unicode("").tag(sync=True)


class Label(Part):
    kind = "label"
    value = traitlets.Unicode("").tag(sync=True)


class Image(Part):
    """A PNG picture, hidden while it has none; ``width`` its CSS width. With ``on_click`` set, a click
    on it calls ``on_click(x, y)`` with the point as fractions (0..1) of the picture's width and height."""

    kind = "image"
    value = traitlets.Bytes(b"").tag(sync=True)
    width = traitlets.Unicode("224px").tag(sync=True)
    alt = traitlets.Unicode("").tag(sync=True)
    clickable = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_click: Callable[[float, float], None] | None = None
        self.router = MessageRouter(self, {"click": self._clicked})

    def on_click(self, callback: Callable[[float, float], None]) -> None:
        self._on_click = callback
        self.clickable = True

    def _clicked(self, content: dict) -> dict:
        x, y = content.get("x"), content.get("y")
        if not (is_finite_number(x) and is_finite_number(y) and 0 <= x <= 1 and 0 <= y <= 1):
            raise ValueError("message fields 'x' and 'y' must be numbers from 0 to 1")
        if self._on_click is None:
            raise ValueError("this picture takes no clicks")
        self._on_click(float(x), float(y))
        return {}
