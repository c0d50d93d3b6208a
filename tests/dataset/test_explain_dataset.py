"""explain_dataset: every image of a folder explained into a Parquet table, zarr maps and a
manifest; failed rows recorded, bad data refused before work starts, an interrupted run resumed to
the same files, and the same files from two torchrun processes as from one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
import zarr

from camwidgets import ClassifierOutputTarget, GradCAM, explain_dataset, load_results
from camwidgets.metrics import energy_pointing_game

from .common import ROWS, SETTINGS, model, preprocess


def files_of(out: Path) -> dict[str, object]:
    """What a run leaves, comparable across runs: file bytes, and the zarr arrays' values."""
    group = zarr.open_group(str(out / "maps.zarr"), mode="r")
    found: dict[str, object] = {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and "maps.zarr" not in p.parts
    }
    found.update({f"maps.zarr/{name}": np.asarray(group[name]) for name in ("grid", "display", "photos")})
    return found


def assert_same_files(a: Path, b: Path) -> None:
    left, right = files_of(a), files_of(b)
    assert sorted(left) == sorted(right)
    for name, value in left.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, right[name], err_msg=name)
        else:
            assert value == right[name], name


def test_a_folder_becomes_a_table_maps_and_a_manifest(finished, folder):
    table = finished.table
    assert len(table) == ROWS and list(table["id"]) == list(range(ROWS))
    assert table.equals(pd.read_parquet(finished.out / "table.parquet"))  # what pandas reads is what was returned
    again = load_results(finished.out)
    assert (
        again.table.equals(table) and np.array_equal(again.maps[:], finished.maps[:]) and again.manifest["rows"] == ROWS
    )
    failed = table[table["error"] != ""]
    assert sorted(failed["path"]) == ["circle/empty.png", "square/broken.png"]
    assert any("empty file" in e for e in failed["error"]) and any("could not read" in e for e in failed["error"])
    good = table[table["error"] == ""]
    assert set(good["label"]) == {0, 1} and (good["path"].str.endswith(".png")).all()
    manifest = finished.manifest
    assert (
        manifest["rows"] == ROWS
        and manifest["failed"] == 2
        and manifest["method"] == "GradCAM"
        and manifest["layers"] == ["head_conv"]
    )
    assert manifest["grid"] == [32, 32] and set(manifest["versions"]) == {"camwidgets", "torch", "torchvision"}
    assert manifest["classes"] == ["circle", "square"] and manifest["root"] == str(folder.resolve())
    assert json.loads((finished.out / "manifest.json").read_text()) == manifest  # the file says the same
    assert (
        finished.maps.shape == (ROWS, 64, 64)
        and finished.grid_maps.shape == (ROWS, 32, 32)
        and finished.maps.dtype == np.uint8
    )
    assert (
        finished.photos.shape == (ROWS, 64, 64, 3) and finished.photos[int(good["id"].iloc[0])].max() > 200
    )  # the bright shape


def test_each_row_holds_the_models_prediction_and_the_engines_map(finished, folder):
    net = model()
    good = finished.table[finished.table["error"] == ""].head(5)
    x = torch.stack([preprocess(__import__("PIL.Image").Image.open(folder / p)) for p in good["path"]])
    with torch.no_grad():
        probabilities = torch.softmax(net(x), dim=1)
    np.testing.assert_array_equal(good["predicted"], probabilities.argmax(1).numpy())
    np.testing.assert_allclose(good["confidence"], probabilities.max(1).values.numpy(), rtol=1e-5)
    assert (good["target"] == good["predicted"]).all() and (
        good["correct"] == (good["label"] == good["predicted"])
    ).all()
    maps = torch.from_numpy(GradCAM(net, ["head_conv"])(x, [ClassifierOutputTarget(int(c)) for c in good["predicted"]]))
    display = F.interpolate(maps[:, None], size=(64, 64), mode="area")[:, 0].numpy()
    stored = np.stack([finished.map(int(i)) for i in good["id"]])
    np.testing.assert_allclose(stored, display, atol=0.5 / 255 + 1e-6)  # the map, rounded to 8 bits
    assert ((good["drop"] >= 0) & (good["drop"] <= 1)).all()
    failed = finished.table[finished.table["error"] != ""]
    assert (failed["predicted"] == -1).all() and failed["confidence"].isna().all()
    assert not finished.maps[int(failed["id"].iloc[0])].any()


def test_an_interrupted_run_resumes_to_the_same_files(finished, folder, tmp_path):
    out = tmp_path / "out"
    stop = {"after": 6}

    def interrupt(done, total, description):
        if done >= stop["after"]:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the second chunk

    with pytest.raises(KeyboardInterrupt):
        explain_dataset(model(), folder, out=out, **{**SETTINGS, "progress": interrupt})
    assert (out / "chunks" / "000000.done").exists() and not (out / "chunks" / "000001.done").exists()
    assert not (out / "table.parquet").exists()  # nothing claims to be finished
    seen = []
    explain_dataset(
        model(), folder, out=out, **{**SETTINGS, "progress": lambda done, total, d: seen.append((done, total))}
    )
    assert seen[-1] == (ROWS - 4, ROWS - 4)  # the finished first chunk was not computed again
    assert_same_files(out, finished.out)
    with pytest.raises(ValueError, match="other settings .*method"):
        explain_dataset(model(), folder, out=out, **{**SETTINGS, "method": "layercam"})
    again = explain_dataset(model(), folder, out=out, **{**SETTINGS, "method": "layercam", "resume": False})
    assert again.manifest["method"] == "LayerCAM"


def test_bad_data_is_refused_before_any_work(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="the dataset is empty"):
        explain_dataset(model(), tmp_path / "empty", out=tmp_path / "a", preprocess=preprocess, progress=False)
    images = torch.rand(4, 3, 32, 32)
    with pytest.raises(TypeError, match="labels must be integer class indices"):
        explain_dataset(model(), [(image, "cat") for image in images], out=tmp_path / "b", progress=False)

    class ThreeClasses(list):
        classes = ["a", "b", "c"]

    with pytest.raises(ValueError, match="3 classes but the model only 2 outputs"):
        explain_dataset(model(), ThreeClasses((image, 0) for image in images), out=tmp_path / "c", progress=False)
    with pytest.raises(ValueError, match="unknown metric"):
        explain_dataset(
            model(), [(image, 0) for image in images], out=tmp_path / "d", metrics=("accuracy",), progress=False
        )
    with pytest.raises(TypeError, match="a torch Dataset, a DataLoader or a folder path"):
        explain_dataset(model(), 42, out=tmp_path / "e", progress=False)
    assert not any((tmp_path / name).exists() for name in "abcde")  # nothing was written
    with pytest.raises(FileNotFoundError, match="no finished run"):
        load_results(tmp_path / "a")


def test_masks_add_how_much_of_the_map_falls_on_the_object(tmp_path):
    images = torch.rand(5, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    masks = np.zeros((5, 32, 32), bool)
    masks[:, 8:20, 10:24] = True
    rows = [{"image": image, "label": 1, "mask": mask} for image, mask in zip(images, masks)]
    results = explain_dataset(model(), rows, out=tmp_path / "out", batch_size=2, progress=False)
    table = results.table
    maps = GradCAM(model(), ["head_conv"])(images, [ClassifierOutputTarget(int(c)) for c in table["predicted"]])
    np.testing.assert_allclose(table["energy_in_object"], energy_pointing_game(maps, masks), atol=1e-5)
    np.testing.assert_allclose(table["mass_outside"], 1 - table["energy_in_object"], atol=1e-6)
    assert (
        table["pointing_game"].dtype == np.float32
        and set(table["pointing_game"]) <= {0.0, 1.0}
        and results.manifest["metrics"][-3:] == ["energy_in_object", "mass_outside", "pointing_game"]
    )


def torchrun(*arguments: str) -> subprocess.CompletedProcess:
    command = [
        str(Path(sys.executable).with_name("torchrun")),
        "--standalone",
        "--nproc_per_node=2",
        str(Path(__file__).with_name("distributed_run.py")),
        *arguments,
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}  # torchrun's own default for several processes
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)


@pytest.mark.slow
def test_two_torchrun_processes_write_the_same_files_as_one_even_after_a_rank_is_killed(finished, folder, tmp_path):
    out = tmp_path / "two"
    done = torchrun(str(folder), str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_files(out, finished.out)
    assert json.loads((out / "manifest.json").read_text())["chunks"] == 4
    killed = tmp_path / "killed"
    crashed = torchrun(str(folder), str(killed), "1", "3")  # rank 1 dies in its first chunk
    assert crashed.returncode != 0 and not (killed / "manifest.json").exists()
    assert not (killed / "chunks" / "000001.done").exists()
    resumed = torchrun(str(folder), str(killed))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_files(killed, finished.out)
    shutil.rmtree(killed)
