"""Methods built around a base method: FinerCAM, RefineCAM, SESS, SmoothGradCAMpp."""

from __future__ import annotations

__all__: list[str] = []
