"""Notebook widgets: :class:`CAMExplorer` and its pieces (one Python class per front-end module),
and :class:`DatasetExplorer` over the results of ``explain_dataset``."""

from .dataset_explorer import DatasetExplorer
from .explorer import CAMExplorer
from .layer_tree import LayerTree
from .overlay import OverlayView
from .session import ExplorerSession, ViewState
from .thumbnails import ThumbnailGrid

__all__ = ["CAMExplorer", "DatasetExplorer", "ExplorerSession", "LayerTree", "OverlayView", "ThumbnailGrid", "ViewState"]
