"""The explorer's lower tabs, one module each, found through :data:`TABS`: compare grid, guided
view, concepts (DFF), the "Which should I use?" ranking, export. Each is a :class:`~.base.Tab`
(``key``, ``title``, ``box``, ``stop()``) built on the session and a :class:`~.base.TabHost`; none
changes the main view."""

from __future__ import annotations

from typing import Any

from ...widgets.parts import Tabs as TabsPart
from .base import Tab, TabHost, text_html
from .compare import CompareTab
from .concepts import ConceptsTab, classifier_head
from .export import ExportTab
from .guided import GuidedTab
from .ranking import RankingTab

__all__ = [
    "TABS",
    "register_tab",
    "Tabs",
    "build_tabs",
    "Tab",
    "TabHost",
    "text_html",
    "classifier_head",
    "CompareTab",
    "GuidedTab",
    "ConceptsTab",
    "RankingTab",
    "ExportTab",
]


#: The tabs in the order they are shown; a new tab is one module plus one line here (or
#: :func:`register_tab` from outside). Each is found under ``explorer.panels.<key>``.
TABS: list[type[Tab]] = [CompareTab, GuidedTab, ConceptsTab, RankingTab, ExportTab]


def register_tab(tab: type[Tab]) -> type[Tab]:
    """Add ``tab`` after the others (a ``key`` already taken is a ValueError)."""
    if not tab.key or any(other.key == tab.key for other in TABS):
        raise ValueError(f"a tab needs a key of its own; {tab.key!r} is {'empty' if not tab.key else 'taken'}")
    TABS.append(tab)
    return tab


class Tabs:
    """The built tabs: ``tabs`` (the tab box shown) and each tab by its ``key``
    (``panels.compare``, ``panels.metrics``, ...)."""

    def __init__(self, parts: list[Tab], tabs: TabsPart) -> None:
        self.parts = {part.key: part for part in parts}
        self.tabs = tabs

    def __contains__(self, key: str) -> bool:
        return key in self.parts

    def __getattr__(self, key: str) -> Tab:
        parts = self.__dict__.get("parts", {})
        if key in parts:
            return parts[key]
        raise AttributeError(f"no tab {key!r}; the tabs are {', '.join(parts)}")

    def __iter__(self):
        return iter(self.parts.values())


def build_tabs(session: Any, host: TabHost) -> Tabs:
    parts = [
        tab(session, host)
        for tab in TABS
        if session.kind in tab.kinds and (session.several is None or tab.several_inputs)
    ]
    tabs = TabsPart([part.box for part in parts], titles=[part.title for part in parts], css="cw-lower-tabs")
    return Tabs(parts, tabs)
