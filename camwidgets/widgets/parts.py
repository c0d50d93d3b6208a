"""One anywidget per view, composed of parts.

A :class:`Part` is a piece of a view (the overlay, the layer tree, a dropdown, a row of boxes) with
its own traits and messages, but no widget model of its own. A :class:`PartsWidget` mounts a tree of
parts and is the one anywidget the notebook, marimo or a saved page shows: each synced trait ``name``
of the part with id ``p`` is mirrored as the widget trait ``p__name``, the tree is the ``parts``
trait, and a custom message ``{"part": p, ...}`` goes to that part. ``js/app.js`` builds the page from
``parts`` and gives each part's renderer a model that sees only that part's traits and messages, so
every part is written as if it were a widget of its own.

The kernel owns every trait except a part's ``browser_writable`` ones; a browser change of another
trait, or an invalid value, is refused, counted in the part's ``refused_updates`` and answered with
the kernel's value.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

import anywidget
import traitlets

from ..core.assets import asset_path, widget_module
from .messages import logger

__all__ = ["Part", "Box", "Row", "Column", "Grid", "Tabs", "PartsWidget", "SEPARATOR", "saved_state"]

#: Between a part's id and its trait's name in the widget's trait names (``"p3__opacity"``).
SEPARATOR = "__"

_ids = itertools.count(1)

MessageCallback = Callable[[Any, Any, Any], None]


class Part(traitlets.HasTraits):
    """A piece of a composed widget: ``kind`` names its renderer in ``js/app.js``; its synced traits
    reach the browser through the widget that mounts it; ``send`` and ``on_msg`` carry its messages."""

    kind: ClassVar[str] = ""
    browser_writable: ClassVar[frozenset[str]] = frozenset()
    """Traits the front end may change; the others are the kernel's (a change from the browser is refused)."""

    visible = traitlets.Bool(True).tag(sync=True)
    """False hides the part (and keeps its place in the tree)."""
    css = traitlets.Unicode("").tag(sync=True)
    """Extra class names of the part's element (``widgets.css``)."""

    refused_updates = 0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.part_id = f"p{next(_ids)}"
        self._hosts: list[PartsWidget] = []  # the widgets that show it (an explorer, and its tab shown alone)
        self._message_callbacks: list[MessageCallback] = []
        self._own_widget: PartsWidget | None = None

    # -- the messages of one part --------------------------------------------------------------------
    def on_msg(self, callback: MessageCallback, remove: bool = False) -> None:
        """Call ``callback(part, content, buffers)`` for each message the browser sends to this part."""
        if remove:
            self._message_callbacks.remove(callback)
        else:
            self._message_callbacks.append(callback)

    def receive(self, content: Any, buffers: Any = None) -> None:
        for callback in list(self._message_callbacks):
            callback(self, content, buffers)

    @property
    def _host(self) -> PartsWidget | None:
        """The first widget that shows this part (None while none does)."""
        return self._hosts[0] if self._hosts else None

    def send(self, content: dict, buffers: Any = None) -> None:
        """Send ``content`` to this part's renderers (nothing while no widget shows the part)."""
        for host in self._hosts:
            host.send({**content, "part": self.part_id}, buffers)

    @contextlib.contextmanager
    def hold_sync(self) -> Iterator[None]:
        """Send the changes made inside the block together (as the mounting widgets' ``hold_sync``)."""
        with contextlib.ExitStack() as stack:
            for host in self._hosts:
                stack.enter_context(host.hold_sync())
            yield

    # -- what the browser may change -----------------------------------------------------------------
    def accept_browser(self, values: dict[str, Any]) -> list[str]:
        """Apply a browser's changes; return the names refused (not writable, or invalid)."""
        refused = [name for name in values if name not in self.browser_writable]
        for name, value in values.items():
            if name in refused:
                continue
            try:
                setattr(self, name, value)
            except (traitlets.TraitError, ArithmeticError, TypeError, ValueError) as error:
                logger.info("refused a front-end value for %s: %s", name, error)
                refused.append(name)
        if refused:
            self.refused_updates += 1
            logger.warning(
                "refused a front-end change of %s on %s", ", ".join(n[:40] for n in refused[:8]), type(self).__name__
            )
        return refused

    def synced(self) -> list[str]:
        return sorted(self.traits(sync=True))

    def children_parts(self) -> list[Part]:
        return []

    def describe(self) -> dict[str, Any]:
        """This part in the ``parts`` tree: its id, kind and the ids of what it holds."""
        return {"id": self.part_id, "kind": self.kind}

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """A part shown on its own (a tab's box in a notebook cell) is mounted in a widget of its own,
        which follows it as the explorer's view does."""
        if self._own_widget is None:
            self._own_widget = PartsWidget(self)
        return self._own_widget._repr_mimebundle_(**kwargs)


class Box(Part):
    """Parts laid out together: ``Row``, ``Column``, ``Grid`` (``columns`` given) or ``Tabs``."""

    kind = "box"
    direction = traitlets.Unicode("column").tag(sync=True)
    """'row' (wraps when narrow), 'column' or 'grid'."""
    columns = traitlets.Unicode("").tag(sync=True)
    """A grid's CSS ``grid-template-columns``."""

    def __init__(self, children: list[Part] | tuple[Part, ...] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.children = list(children)

    def children_parts(self) -> list[Part]:
        return list(self.children)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "children": [child.describe() for child in self.children]}


class Row(Box):
    direction = traitlets.Unicode("row").tag(sync=True)


class Column(Box):
    direction = traitlets.Unicode("column").tag(sync=True)


class Grid(Box):
    direction = traitlets.Unicode("grid").tag(sync=True)


class Tabs(Box):
    """Children shown one at a time under a row of tab buttons (arrow keys move between them)."""

    kind = "tabs"
    browser_writable = frozenset({"selected_index"})
    titles = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selected_index = traitlets.Int(0, min=0).tag(sync=True)
    """The tab shown (chosen in the browser)."""

    @traitlets.validate("selected_index")
    def _a_tab(self, proposal: dict) -> int:
        if proposal["value"] >= max(1, len(self.children)):
            raise traitlets.TraitError(f"there are {len(self.children)} tabs; got tab {proposal['value']}")
        return proposal["value"]


def _walk(part: Part) -> Iterator[Part]:
    yield part
    for child in part.children_parts():
        yield from _walk(child)


def saved_state(root: Part, testid: str, working: Iterable[Part] = ()) -> tuple[dict[str, Any], list[bytes]]:
    """The state a :class:`PartsWidget` showing ``root`` would have, for a page with no kernel:
    ``({"state": {...}, "buffer_paths": [[name], ...]}, buffers)``, bytes travelling apart as
    buffers. Every field outside ``working`` (and the parts under them) is saved disabled."""
    keep = {part.part_id for top in working for part in _walk(top)}
    state: dict[str, Any] = {"parts": root.describe(), "testid": testid}
    paths: list[list[str]] = []
    buffers: list[bytes] = []
    for part in _walk(root):
        for name in part.synced():
            key, value = part.part_id + SEPARATOR + name, getattr(part, name)
            if isinstance(value, (bytes, bytearray, memoryview)):
                paths.append([key])
                buffers.append(bytes(value))
                value = None
            state[key] = value
        if "disabled" in part.synced() and part.part_id not in keep:
            state[part.part_id + SEPARATOR + "disabled"] = True
    return {"state": state, "buffer_paths": paths}, buffers


class PartsWidget(anywidget.AnyWidget):
    """The one anywidget of a composed view: mounts ``root`` (a :class:`Part`) and everything under it."""

    _esm = widget_module()
    _css = asset_path("widgets.css")

    parts = traitlets.Dict().tag(sync=True)
    """The tree of parts: ``{"id", "kind", "children"?}``."""
    testid = traitlets.Unicode("cw-app").tag(sync=True)
    """``data-testid`` of the root element."""
    without_kernel = traitlets.Unicode(
        "Shown from the notebook's saved state: no kernel runs here. Colormap, opacity, mode and zoom "
        "work; the other controls need the notebook running."
    ).tag(sync=True)
    """What a page drawn from saved widget state (``nbconvert --to html``) says above the view, whose
    controls it shows disabled: nothing there answers them."""

    def __init__(self, root: Part | None = None, **kwargs: Any) -> None:
        self._mounted: dict[str, Part] = {}
        if root is not None:  # every trait in place before the comm opens: the page gets them in its first message
            self._attach(root)
            kwargs.setdefault("parts", root.describe())
        super().__init__(**kwargs)
        self.on_msg(self._route_message)

    # -- mounting --------------------------------------------------------------------------------------
    def _attach(self, root: Part) -> list[str]:
        """Mirror the traits of every part under ``root`` not mounted yet; return the new trait names."""
        fresh = [part for part in _walk(root) if part.part_id not in self._mounted]
        traits: dict[str, traitlets.TraitType] = {}
        for part in fresh:
            part._hosts.append(self)
            self._mounted[part.part_id] = part
            for name in part.synced():
                traits[part.part_id + SEPARATOR + name] = traitlets.Any(getattr(part, name)).tag(sync=True)
        if traits:
            # traitlets' own add_traits: ipywidgets' would send each new trait in a message of its own
            traitlets.HasTraits.add_traits(self, **traits)
        for part in fresh:
            self._link(part)
        self._root = root
        return list(traits)

    def mount(self, root: Part) -> None:
        """Show ``root``: every part under it gets its traits mirrored here (parts already mounted keep
        theirs); the new traits and the tree reach the page in one message."""
        added = self._attach(root)
        if added and "keys" in self._trait_values:  # the synced names, once ipywidgets has listed them
            self.keys = [*self.keys, *added]
        with self.hold_sync():
            if added:
                self.send_state(added)
            self.parts = root.describe()

    def remount(self) -> None:
        """Show the tree again after a box's ``children`` changed."""
        self.mount(self._root)

    def _link(self, part: Part) -> None:
        prefix = part.part_id + SEPARATOR

        def to_widget(change: dict) -> None:
            setattr(self, prefix + change["name"], change["new"])

        part.observe(to_widget, names=part.synced())
        for name in part.synced():
            if getattr(self, prefix + name) is not getattr(part, name):
                setattr(self, prefix + name, getattr(part, name))

    @property
    def root(self) -> Part:
        """The part at the top of the tree shown."""
        return self._root

    def close(self) -> None:
        """Close the widget; its parts stop sending to it."""
        for part in getattr(self, "_mounted", {}).values():
            if self in part._hosts:
                part._hosts.remove(self)
        super().close()

    # -- the browser's changes and messages ------------------------------------------------------------
    def set_state(self, sync_data: dict) -> None:
        """A browser's trait changes, each checked by its part; refused ones are sent back as the kernel has them."""
        by_part: dict[str, dict[str, Any]] = {}
        refused: list[str] = []
        for key, value in sync_data.items():
            part_id, _, name = key.partition(SEPARATOR)
            part = self._mounted.get(part_id)
            if part is None or name not in part.synced():
                refused.append(key)
                continue
            by_part.setdefault(part_id, {})[name] = value
        if refused:
            logger.warning("refused a front-end change of %s", ", ".join(k[:40] for k in refused[:8]))
        with self._lock_property(**{key: sync_data[key] for key in sync_data if key not in refused}):
            for part_id, values in by_part.items():  # each part's change mirrors back here, not echoed
                bad = self._mounted[part_id].accept_browser(values)
                refused += [part_id + SEPARATOR + name for name in bad]
        known = [key for key in refused if key in self.keys]
        if known:
            self.send_state(known)

    def _route_message(self, widget: Any, content: Any, buffers: Any) -> None:
        part_id = content.get("part") if isinstance(content, dict) else None
        part = self._mounted.get(part_id) if isinstance(part_id, str) else None
        if part is None:
            logger.warning("ignored a front-end message for no part: %.200r", content)
            return
        part.receive({key: value for key, value in content.items() if key != "part"}, buffers)
