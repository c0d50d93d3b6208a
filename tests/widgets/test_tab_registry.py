"""Tabs are plug-ins: a tab is one module (a :class:`Tab` subclass) plus one registry line, and the
explorer shows it after the others, under ``explorer.panels.<key>``."""

from __future__ import annotations

import pytest

from camwidgets.explorer import CAMExplorer
from camwidgets.explorer.tabs import TABS, Tab, register_tab
from camwidgets.widgets.fields import Label
from camwidgets.widgets.parts import Column


class ImageCount(Tab):
    """A toy tab: how many images the explorer holds."""

    key, title = "count", "Count"

    def __init__(self, session, host):
        super().__init__(session, host)
        self.box = Column([Label(value=f"{len(session.images)} images")])


@pytest.fixture
def registered():
    register_tab(ImageCount)
    yield
    TABS.remove(ImageCount)  # the registry as it was


def test_a_toy_tab_registered_in_one_line_is_shown_after_the_others(registered, tiny_model, tiny_images):
    explorer = CAMExplorer(tiny_model, tiny_images)
    assert isinstance(explorer.panels.count, ImageCount)
    assert explorer.panels.tabs.titles[-1] == "Count" and explorer.panels.count.box.children[0].value == "2 images"
    assert [part.key for part in explorer.panels] == ["compare", "guided", "concepts", "metrics", "export", "count"]
    with pytest.raises(ValueError, match="'count' is taken"):
        register_tab(ImageCount)
    with pytest.raises(AttributeError, match="no tab 'nothing'"):
        explorer.panels.nothing  # noqa: B018
