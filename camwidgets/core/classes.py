"""Class names: finding a class by index or by (part of) its name, with the candidates when unsure."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np

__all__ = ["resolve_class", "class_label"]


def class_label(labels: Sequence[str], index: int) -> str:
    """'name (index)', as menus show a class."""
    return f"{labels[index]} ({index})"


def resolve_class(target: int | str, labels: Sequence[str]) -> int:
    """The class index for ``target``: an index (int or digits) or a class name, case-insensitive;
    a unique prefix is enough. Raises ``ValueError`` listing candidates when it is unknown or ambiguous."""
    count = len(labels)
    if isinstance(target, (int, np.integer)) or (isinstance(target, str) and target.strip().lstrip("-").isdigit()):
        index = int(target)
        if not 0 <= index < count:
            raise ValueError(
                f"class index {index} is out of range; pass 0 to {count - 1} or a class name such as {labels[0]!r}"
            )
        return index
    query = str(target).strip().lower()
    lowered = [name.lower() for name in labels]
    exact = [i for i, name in enumerate(lowered) if name == query]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        listed = ", ".join(class_label(labels, i) for i in exact)
        raise ValueError(f"class name {target!r} is used by several classes: {listed}; pass the index instead")
    prefixed = [i for i, name in enumerate(lowered) if name.startswith(query)]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        shown = ", ".join(class_label(labels, i) for i in prefixed[:10])
        more = f" and {len(prefixed) - 10} more" if len(prefixed) > 10 else ""
        raise ValueError(f"class name {target!r} is ambiguous: {shown}{more}; type more of the name or pass an index")
    close = difflib.get_close_matches(query, lowered, n=5, cutoff=0.6)
    contains = [i for i, name in enumerate(lowered) if query in name][:5]
    candidates = list(dict.fromkeys([lowered.index(c) for c in close] + contains))
    hint = f" Closest: {', '.join(class_label(labels, i) for i in candidates)}." if candidates else ""
    raise ValueError(f"unknown class {target!r}.{hint} Pass a class index (0 to {count - 1}) or a class name")
