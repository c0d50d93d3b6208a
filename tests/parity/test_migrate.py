"""``python -m camwidgets migrate``: scripts written for pytorch-grad-cam run after it with the same
results, notebooks are rewritten cell by cell, and what cannot be mapped is listed."""

from __future__ import annotations

import json
import pathlib
import warnings

import numpy as np
import pytest

from camwidgets.cli import main
from camwidgets.compat.migrate import migrate_notebook, migrate_source

SCRIPTS = pathlib.Path(__file__).parent / "reference_scripts"
SLOW = {"cam_script", "vit_example", "detection_tutorial"}


def run(source: str, name: str) -> dict:
    namespace: dict = {"__name__": f"script_{name}"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(source, f"{name}.py", "exec"), namespace)
    return namespace["results"]


def scripts():
    for path in sorted(SCRIPTS.glob("*.py")):
        if path.stem != "__init__":
            yield pytest.param(path, marks=[pytest.mark.slow] if path.stem in SLOW else [], id=path.stem)


@pytest.mark.parity
@pytest.mark.parametrize("path", scripts())
def test_a_reference_script_gives_the_same_results_after_migrate(reference, path):
    source = path.read_text()
    migration = migrate_source(source)
    assert not migration.unmapped and migration.changes
    assert "pytorch_grad_cam" not in "".join(line for line in migration.text.splitlines(True) if "import" in line)
    theirs, ours = run(source, path.stem), run(migration.text, path.stem)
    assert set(ours) == set(theirs)
    for key, expected in theirs.items():
        got = np.asarray(ours[key], dtype=np.float64)
        expected = np.asarray(expected, dtype=np.float64)
        assert got.shape == expected.shape, key
        if key.startswith("noisy"):  # random imputation noise in both: the same to within its effect
            np.testing.assert_allclose(got, expected, atol=0.05)
        elif key.startswith("amplified"):  # see the script
            assert np.abs(got - expected).max() <= 1e-3, key
        elif expected.max() > 2:  # uint8 pictures: one step of rounding
            assert np.abs(got - expected).max() <= 1, key
        else:
            assert np.abs(got - expected).max() <= 1e-4, key


def test_imports_are_rewritten_on_the_syntax_tree_and_the_rest_is_kept():
    source = (
        "import torch  # pytorch_grad_cam in a comment\n"
        "from pytorch_grad_cam import GradCAM, HiResCAM as H\n"
        "from pytorch_grad_cam.utils.image import (show_cam_on_image,\n"
        "    preprocess_image)\n"
        "from pytorch_grad_cam.utils import model_targets\n"
        "import pytorch_grad_cam.utils.reshape_transforms\n"
        "import pytorch_grad_cam as pgc\n"
        "cam = GradCAM(model=model, target_layers=layers, use_cuda=True)\n"
        "other = pgc.EigenCAM(model, layers, use_cuda=torch.cuda.is_available(), reshape_transform=None)\n"
        "t = pytorch_grad_cam.utils.reshape_transforms.vit_reshape_transform\n"
        's = "from pytorch_grad_cam import GradCAM"\n'
        "from pytorch_grad_cam.no_such_module import thing\n"
        "from pytorch_grad_cam.utils.image import not_a_name\n"
    )
    migration = migrate_source(source)
    assert migration.text.splitlines() == [
        "import torch  # pytorch_grad_cam in a comment",
        "from camwidgets import GradCAM, HiResCAM as H",
        "from camwidgets import (show_cam_on_image,",
        "    preprocess_image)",
        "from camwidgets.utils import model_targets",
        "import camwidgets.utils.reshape_transforms",
        "import camwidgets as pgc",
        "cam = GradCAM(model=model, target_layers=layers)",
        "other = pgc.EigenCAM(model, layers, reshape_transform=None)",
        "t = camwidgets.utils.reshape_transforms.vit_reshape_transform",
        's = "from pytorch_grad_cam import GradCAM"',
        "from pytorch_grad_cam.no_such_module import thing",
        "from pytorch_grad_cam.utils.image import not_a_name",
    ]
    assert len(migration.unmapped) == 2 and "line 12" in migration.unmapped[0] and "not_a_name" in migration.unmapped[1]
    namespace: dict = {}
    exec("\n".join(migration.text.splitlines()[1:7]), namespace)  # the rewritten imports import
    assert namespace["pgc"].GradCAM is namespace["GradCAM"]


def test_notebooks_are_rewritten_cell_by_cell_keeping_magics_and_outputs(tmp_path):
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["from pytorch_grad_cam import GradCAM\n"]},
            {
                "cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}],
                "source": ["%matplotlib inline\n", "from pytorch_grad_cam import GradCAM\n", "!echo ok"],
            },
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    path = tmp_path / "tutorial.ipynb"
    path.write_text(json.dumps(notebook, indent=1))
    migration = migrate_notebook(path.read_text())
    cells = json.loads(migration.text)["cells"]
    assert cells[0] == notebook["cells"][0]  # markdown untouched
    assert cells[1]["source"] == ["%matplotlib inline\n", "from camwidgets import GradCAM\n", "!echo ok"]
    assert cells[1]["outputs"] == notebook["cells"][1]["outputs"]
    assert migration.changes == ["cell 2, line 2: from camwidgets import GradCAM"]


def test_the_command_prints_a_diff_and_writes_only_when_asked(tmp_path, capsys):
    script = tmp_path / "scripts" / "explain.py"
    script.parent.mkdir()
    script.write_text(
        "from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget\nfrom pytorch_grad_cam.nope import x\n"
    )
    assert main(["migrate", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "+from camwidgets import ClassifierOutputTarget" in printed and "would rewrite" in printed
    assert "pytorch_grad_cam.nope is not part of pytorch-grad-cam" in printed
    assert script.read_text().startswith("from pytorch_grad_cam")
    assert main(["migrate", "--write", str(script)]) == 0
    assert script.read_text().startswith("from camwidgets import ClassifierOutputTarget\n")
    assert main(["migrate", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err
