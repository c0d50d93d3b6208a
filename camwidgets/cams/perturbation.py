"""Perturbation methods: ScoreCAM and its smoothed/integrated forms, AblationCAM."""

from __future__ import annotations

__all__: list[str] = []
