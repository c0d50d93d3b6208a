"""``python -m camwidgets explain-dataset``: a folder of the bundled photos, pretrained mobilenet_v2."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from camwidgets.cli import main
from camwidgets.data import photo_path


@pytest.fixture
def photos(tmp_path):
    for name, folder in (("chelsea", "cats"), ("coffee", "cups"), ("rocket", "cups")):
        (tmp_path / "photos" / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(photo_path(name), tmp_path / "photos" / folder / f"{name}.png")
    (tmp_path / "photos" / "cups" / "notes.png").write_text("not an image")
    return tmp_path / "photos"


def test_explain_dataset_from_the_command_line(photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(["explain-dataset", str(photos), "--out", str(out), "--metrics", "confidence,drop", "--batch-size", "2"])
        == 0
    )
    assert "4 images, 1 failed" in capsys.readouterr().out
    table = pd.read_parquet(out / "table.parquet").set_index("path")
    assert table.loc["cats/chelsea.png", "predicted"] in (281, 282, 285)  # tabby, tiger cat, Egyptian cat
    assert (
        table.loc["cups/coffee.png", "predicted"] == 967 and table.loc["cups/coffee.png", "label"] == 1
    )  # espresso; 'cups' is class 1
    assert "could not read" in table.loc["cups/notes.png", "error"]
    assert main(["explain-dataset", str(photos / "cats" / "chelsea.png"), "--out", str(out)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["explain-dataset", str(photos), "--out", str(tmp_path / "o2"), "--metrics", "accuracy"]) == 2
    assert "unknown metric" in capsys.readouterr().err
