"""Rendering of class activation maps on top of images."""

from .overlay import show_cam_on_image

__all__ = ["show_cam_on_image"]
