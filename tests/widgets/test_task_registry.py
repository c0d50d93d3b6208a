"""Tasks are plug-ins: a task is one module (a :class:`Task` subclass) plus one registry line, and
no part of the explorer outside ``camwidgets/explorer/tasks/`` decides anything by a task's name."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import torch

import camwidgets
from camwidgets.engine.targets import ClassifierOutputTarget
from camwidgets.explorer import TASKS, CAMExplorer, Task, register_task
from camwidgets.explorer.tasks import infer_task


class Regression(Task):
    """A toy task: one value per image, ``(B, 1)``; the target is that value."""

    name, inferred, shows_class_search = "regression", False, False

    @classmethod
    def fits(cls, outputs, images):
        return isinstance(outputs, torch.Tensor) and tuple(outputs.shape) == (images, 1)

    @classmethod
    def class_names(cls, outputs, context):
        return ["value"]

    @classmethod
    def build(cls, outputs, labels, context):
        return cls(outputs, labels, context.names)

    def targets(self, state, images):
        return [ClassifierOutputTarget(0)] * len(images)


class OneValue(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU())
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


@pytest.fixture
def registered():
    register_task(Regression)
    yield
    del TASKS["regression"]  # the registry as it was


def test_a_toy_task_registered_in_one_line_opens_in_the_explorer(registered):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explorer = CAMExplorer(OneValue().eval(), ["chelsea", "coffee"], task="regression")
    assert isinstance(explorer.session.task, Regression) and explorer.session.labels == ["value"]
    assert explorer.controls.find_class.visible is False  # the task says: no class search
    assert explorer.overlay.error == "" and explorer.result.maps.std() > 0.01
    assert infer_task(torch.zeros(2, 1), 2) == "classification"  # not inferred: asked for by name only
    with pytest.raises(ValueError, match="'regression' is taken"):
        register_task(Regression)


def test_no_part_of_the_explorer_outside_its_tasks_decides_by_a_tasks_name():
    package = Path(camwidgets.__file__).parent
    tasks = package / "explorer" / "tasks"
    by_name = re.compile(r"task\.name\s*[!=]=|_task\s*[!=]=\s*['\"]|\btask\s*==\s*['\"]")
    found = [f"{path.relative_to(package)}:{n}" for path in package.rglob("*.py") if tasks not in path.parents
             for n, line in enumerate(path.read_text().splitlines(), 1) if by_name.search(line)]  # fmt: skip
    assert found == []
