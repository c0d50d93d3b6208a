r"""Methods built on a base method: FinerCAM, RefineCAM, SESS, SmoothGradCAM++."""

from __future__ import annotations
