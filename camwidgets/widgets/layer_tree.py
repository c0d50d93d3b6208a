"""The layer picker: the model's module tree with types and output shapes; spatial layers selectable.

Front end (``js/layer_tree.js``) -> kernel: ``{"type": "select", "id", "paths": [...]}``; paths are
accepted only if every one is a selectable ``named_modules()`` name (else an error reply, nothing
changes, and the explorer's own check, such as a layer selected with its sublayer, refuses it
the same way). Kernel -> front end: the traits below, which the front end cannot change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import traitlets

from .messages import MessageRouter, require
from .parts import Part

__all__ = ["LayerTree"]


class LayerTree(Part):
    browser_writable = frozenset()
    """Traits the front end may change; the others are the kernel's (a change from the browser is refused)."""

    kind = "tree"

    nodes = traitlets.List(traitlets.Dict()).tag(sync=True)
    """Every module, in ``named_modules()`` order: path, parent, type, shape, depth, children, selectable, layout."""

    suggested = traitlets.Unicode("").tag(sync=True)
    reason = traitlets.Unicode("").tag(sync=True)  # why the suggested layer was chosen, and how its output is read
    """The layer ``suggest_target_layer`` picks (marked in the tree)."""

    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """Selected layer paths, non-empty; several are aggregated into one map."""

    def __init__(
        self, tree: Any, selected: list[str], accept: Callable[[list[str]], None] | None = None, **kwargs: Any
    ) -> None:
        """``accept(paths)``, if given, is the owner's further check of a selection from the browser
        (raises ValueError/TypeError to refuse it)."""
        self._selectable = tree.selectable
        self._accept = accept
        super().__init__(
            nodes=[node.as_json() for node in tree.nodes],
            suggested=tree.suggested,
            reason=tree.reason,
            selected=list(selected),
            **kwargs,
        )
        self.router = MessageRouter(self, {"select": self._on_select})

    @traitlets.validate("selected")
    def _valid_selection(self, proposal: dict) -> list[str]:
        paths = list(proposal["value"])
        if not paths:
            raise traitlets.TraitError("select at least one layer")
        if len(set(paths)) != len(paths):
            raise traitlets.TraitError("a layer is selected twice")
        unknown = [path for path in paths if path not in self._selectable]
        if unknown:
            raise traitlets.TraitError(
                f"{unknown[0][:80]!r} is not a selectable layer of this model (a module with a spatial output)"
            )
        return paths

    def _on_select(self, content: dict) -> dict:
        paths = require(content, "paths", list)
        if not all(isinstance(path, str) for path in paths):
            raise ValueError("paths must be a list of layer names")
        try:
            self._valid_selection({"value": paths})
        except traitlets.TraitError as error:
            raise ValueError(str(error)) from None
        if self._accept is not None:
            self._accept(list(paths))
        try:
            self.selected = paths
        except traitlets.TraitError as error:
            raise ValueError(str(error)) from None
        return {"selected": list(self.selected)}
