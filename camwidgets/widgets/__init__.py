"""Notebook widgets: :class:`CAMExplorer` and its pieces (one Python class per front-end module)."""

from .explorer import CAMExplorer
from .layer_tree import LayerTree
from .overlay import OverlayView
from .session import ExplorerSession, ViewState
from .thumbnails import ThumbnailGrid

__all__ = ["CAMExplorer", "ExplorerSession", "LayerTree", "OverlayView", "ThumbnailGrid", "ViewState"]
