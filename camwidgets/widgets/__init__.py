"""The notebook's front-end pieces: anywidget classes, each with its ES module (overlay, layer
tree, thumbnails), the ipywidgets controls, and :class:`DatasetExplorer` over the results of
``explain_dataset``. The explorer that composes them is :mod:`camwidgets.explorer`."""

from .dataset_explorer import DatasetExplorer
from .layer_tree import LayerTree
from .overlay import OverlayView
from .thumbnails import ThumbnailGrid

__all__ = ["DatasetExplorer", "LayerTree", "OverlayView", "ThumbnailGrid"]
