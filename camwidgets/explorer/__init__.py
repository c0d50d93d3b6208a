"""The notebook explorer: :class:`CAMExplorer` (``view``) over an :class:`ExplorerSession` (model,
images, cache, validation, computing), with its values (``state``), its tasks as plug-ins
(``tasks``), its tabs (``tabs``) and the slow-method runs (``runs``); and :class:`DatasetExplorer`
over the results of ``explain_dataset`` (``dataset_view``), whose rows open in a ``CAMExplorer``."""

from .dataset_view import DatasetExplorer
from .session import ExplorerSession
from .state import Estimate, Result, ViewState
from .tasks import TASKS, Task, register_task
from .view import CAMExplorer

__all__ = [
    "CAMExplorer",
    "DatasetExplorer",
    "ExplorerSession",
    "ViewState",
    "Result",
    "Estimate",
    "TASKS",
    "Task",
    "register_task",
]
