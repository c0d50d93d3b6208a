"""The notebook's front-end pieces: anywidget classes, each with its ES module (overlay, layer
tree, thumbnails), and the ipywidgets controls and page helpers they share. The explorers that
compose them are in :mod:`camwidgets.explorer`."""

from .layer_tree import LayerTree
from .overlay import OverlayView
from .thumbnails import ThumbnailGrid

__all__ = ["LayerTree", "OverlayView", "ThumbnailGrid"]
