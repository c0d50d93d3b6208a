r"""Perturbation methods: score the model on masked or ablated inputs (ScoreCAM family, AblationCAM)."""

from __future__ import annotations
