"""A notebook of several explorers, opened once per test module, and a view of one of them."""

from __future__ import annotations

from collections.abc import Iterator


def explorers_notebook(lab, name: str, cells: list[str], count: int) -> Iterator:
    """For a module fixture: notebook ``name`` of ``cells`` run in JupyterLab until its ``count``-th
    explorer is drawn; closed after the module."""
    notebook = lab.open(name, cells)
    notebook.page.locator(".cw-explorer").nth(count - 1).wait_for(state="visible", timeout=120_000)
    yield notebook
    lab.close(notebook)


def explorer(page, index: int):
    """The ``index``-th explorer of the page, scrolled into view."""
    view = page.locator(".cw-explorer").nth(index)
    view.scroll_into_view_if_needed()
    return view
