"""The type stubs of what is made at run time (the registry's CAM classes, the root's lazy exports)
are what ``camwidgets._stubs`` writes from the registry and the exports today: a method added
without writing them again fails here."""

from __future__ import annotations

import ast

import camwidgets
from camwidgets._stubs import STUBS, cams_stub, root_stub
from camwidgets.cams import CLASSES


def test_the_stubs_are_up_to_date_with_the_registry_and_the_exports():
    for path, make in STUBS.items():
        assert path.read_text() == make(), f"{path.name} is stale: run python -m camwidgets._stubs"


def test_the_stubs_name_every_registry_class_and_every_export():
    classes = {node.name for node in ast.parse(cams_stub()).body if isinstance(node, ast.ClassDef)}
    assert classes == set(CLASSES)
    imported = {
        alias.asname for node in ast.parse(root_stub()).body if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    assert set(camwidgets.__all__) <= imported
