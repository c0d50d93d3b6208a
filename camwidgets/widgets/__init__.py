"""The notebook's front-end pieces: :class:`~.parts.PartsWidget` (the one anywidget of a composed
view), its parts (overlay, layer tree, thumbnails, the form fields of :mod:`.fields`), each drawn by
its renderer in the one ES module (``js/``), and the page helpers they share. The explorers that
compose them are in :mod:`camwidgets.explorer`."""

from .layer_tree import LayerTree
from .overlay import OverlayView
from .thumbnails import ThumbnailGrid

__all__ = ["LayerTree", "OverlayView", "ThumbnailGrid"]
