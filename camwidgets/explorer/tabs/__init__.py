"""The explorer's lower tabs, one module each: compare grid, guided view, concepts (DFF), the
"Which should I use?" ranking, export. Each is a :class:`~.base.Tab` (``title``, ``box``,
``stop()``) built on the session and a :class:`~.base.TabHost`; none changes the main view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ipywidgets

from .base import Tab, TabHost, text_html
from .compare import CompareTab
from .concepts import ConceptsTab, classifier_head
from .export import ExportTab
from .guided import GuidedTab
from .ranking import RankingTab

__all__ = [
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


@dataclass
class Tabs:
    compare: CompareTab
    guided: GuidedTab
    concepts: ConceptsTab
    metrics: RankingTab
    export: ExportTab
    tabs: ipywidgets.Tab


def build_tabs(session: Any, host: TabHost) -> Tabs:
    parts = [
        CompareTab(session, host),
        GuidedTab(session, host),
        ConceptsTab(session, host),
        RankingTab(session, host),
        ExportTab(session, host),
    ]
    tabs = ipywidgets.Tab(children=[part.box for part in parts], titles=[part.title for part in parts])
    return Tabs(*parts, tabs=tabs)
