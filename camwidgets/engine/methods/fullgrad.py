r"""FullGrad: input-gradient and bias-gradient maps of every layer with a bias."""

from __future__ import annotations
