"""The notebook explorer: :class:`CAMExplorer` (``view``) over an :class:`ExplorerSession` (model,
images, cache, validation, computing), with its values (``state``), its tasks as plug-ins
(``tasks``), its tabs (``tabs``) and the slow-method runs (``runs``)."""

from .session import ExplorerSession
from .state import Estimate, Result, ViewState
from .tasks import TASKS, Task, register_task
from .view import CAMExplorer

__all__ = ["CAMExplorer", "ExplorerSession", "ViewState", "Result", "Estimate", "TASKS", "Task", "register_task"]
