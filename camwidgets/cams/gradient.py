"""The one-capture methods: gradient family and EigenCAM, with the shared constructor."""

from __future__ import annotations

from .base import method_class

__all__ = ["GradCAM", "HiResCAM", "GradCAMElementWise", "GradCAMPlusPlus", "XGradCAM", "LayerCAM", "EigenCAM", "EigenGradCAM"]

GradCAM = method_class("GradCAM")
HiResCAM = method_class("HiResCAM")
GradCAMElementWise = method_class("GradCAMElementWise")
GradCAMPlusPlus = method_class("GradCAMPlusPlus")
XGradCAM = method_class("XGradCAM")
LayerCAM = method_class("LayerCAM")
EigenCAM = method_class("EigenCAM")
EigenGradCAM = method_class("EigenGradCAM")
