"""explain_dataset ends DONE only with results that are right: one run per folder, the results folder
never read as data, failed rows for non-finite outputs, odd sizes, bad labels and bad boxes, no image
decoded past the pixel limit, sizes checked up front, damaged files found and computed again, every
image file a row, and viewers and messages that open and explain any finished run."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch import nn

from camwidgets import explain_dataset, load_results
from camwidgets.cli import main
from camwidgets.explorer.dataset_view import DatasetExplorer
from tests.conftest import Small, seeded

from .common import model, preprocess, write_folder

QUIET = {"progress": False, "batch_size": 4, "chunk_rows": 4}


def images(count: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(seed))


class Named(list):
    """A list dataset with class names, as ImageFolder has."""

    classes = ["a", "b"]


# -- 4. two runs into one out ---------------------------------------------------------------------


def test_a_second_run_into_the_same_folder_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "out"
    refused = []

    def start_another(done, total, description):
        if not refused:
            with pytest.raises(RuntimeError, match=r"in use by another run \(GradCAM run, process \d+") as error:
                explain_dataset(
                    model(),
                    [(image, 0) for image in images(8)],
                    out=out,
                    method="layercam",
                    resume=False,
                    progress=False,
                )
            refused.append(str(error.value))

    results = explain_dataset(
        model(), [(image, 0) for image in images(8)], out=out, batch_size=4, chunk_rows=4, progress=start_another
    )
    assert refused and "wait for it to finish" in refused[0]
    assert results.manifest["method"] == "GradCAM" and len(results.table) == 8 and (results.table["error"] == "").all()
    assert (out / ".lock").read_text() == ""  # released
    again = explain_dataset(
        model(), [(image, 0) for image in images(8)], out=out, method="layercam", resume=False, **QUIET
    )
    assert again.manifest["method"] == "LayerCAM"


# -- 5. out inside the data, and the class list of a resumed run ------------------------------------


def test_out_inside_the_data_folder_is_refused_and_a_resume_with_other_classes_is_refused(tmp_path):
    folder = write_folder(tmp_path / "data")
    with pytest.raises(ValueError, match="lies inside the data folder"):
        explain_dataset(model(), folder, out=folder / "aaa_out", preprocess=preprocess, **QUIET)
    assert not (folder / "aaa_out").exists()
    out = tmp_path / "out"
    explain_dataset(model(), folder, out=out, preprocess=preprocess, **QUIET)
    assert load_results(out).manifest["classes"] == ["circle", "square"]
    (folder / "square").rename(folder / "squares")  # another class list of the same length
    with pytest.raises(ValueError, match="other settings .*classes"):
        explain_dataset(model(), folder, out=out, preprocess=preprocess, **QUIET)


# -- 6. non-finite outputs ------------------------------------------------------------------------


class NaNForBrightCorner(nn.Module):
    """Small, whose output is NaN for an image whose top-left pixel is above 0.99 (a model that breaks on some inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = model()

    def forward(self, x):
        scores = self.net(x)
        return torch.where((x[:, 0, 0, 0] > 0.99)[:, None], torch.full_like(scores, float("nan")), scores)


def test_a_non_finite_output_makes_a_failed_row_and_the_others_stay(tmp_path):
    x = images(8)
    x[:, 0, 0, 0] = 0.5
    x[2, 0, 1, 1] = float("nan")  # a broken image
    x[5, 0, 0, 0] = 1.0  # an image the model gives NaN for
    results = explain_dataset(
        NaNForBrightCorner(),
        [(image, 1) for image in x],
        out=tmp_path / "out",
        target_layers=["net.head_conv"],
        **QUIET,
    )
    table = results.table
    assert "image holds values that are not finite" in table.loc[2, "error"]
    assert (
        "the model's output for this image is not finite" in table.loc[5, "error"] and table.loc[5, "predicted"] == -1
    )
    good = table.drop(index=[2, 5])
    assert (good["error"] == "").all() and np.isfinite(good["confidence"]).all()
    assert results.manifest["failed"] == 2 and not results.maps[5].any()


# -- 7. images of another size in a batch ----------------------------------------------------------


def test_an_image_of_another_size_in_a_batch_leaves_the_others_good(tmp_path):
    rows = [
        (torch.rand(3, 40 if i == 4 else 32, 40 if i == 4 else 32, generator=torch.Generator().manual_seed(i)), 0)
        for i in range(8)
    ]
    results = explain_dataset(model(), rows, out=tmp_path / "out", **QUIET)
    assert (results.table["error"] == "").all(), results.table["error"].tolist()
    alone = explain_dataset(model(), rows[4:5], out=tmp_path / "alone", **QUIET)
    np.testing.assert_array_equal(results.maps[4], alone.maps[0])  # explained as if alone


# -- 8. labels ----------------------------------------------------------------------------------


def test_every_label_is_checked_and_the_viewers_open_any_finished_run(tmp_path):
    wide = seeded(Small, classes=300)
    results = explain_dataset(
        wide, [(image, 281 if i % 2 else 285) for i, image in enumerate(images(4))], out=tmp_path / "wide", **QUIET
    )
    viewer = DatasetExplorer(results)
    assert {value for _, value in viewer.label.options} >= {281, 285}
    results.to_html(tmp_path / "wide.html")
    named = Named([(image, 7 if i == 5 else i % 2) for i, image in enumerate(images(8))])
    results = explain_dataset(model(), named, out=tmp_path / "named", **QUIET)
    assert "label 7 is not a class index from 0 to 1" in results.table.loc[5, "error"]
    assert (results.table.drop(index=5)["error"] == "").all()
    DatasetExplorer(results).show_row(5)
    assert "failed" in results.to_html(tmp_path / "named.html").read_text()
    no_label = [(image, None if i == 2 else 1) for i, image in enumerate(images(6))]
    results = explain_dataset(model(), no_label, out=tmp_path / "label", targets="label", **QUIET)
    assert "needs a label and this row has none" in results.table.loc[2, "error"]
    assert (results.table.drop(index=2)["target"] == 1).all()
    results = explain_dataset(
        model(),
        [(image, 0) for image in images(4)],
        out=tmp_path / "callable",
        targets=lambda label, predicted: 9,
        **QUIET,
    )
    assert results.table["error"].str.contains("returned 9").all()


# -- 9. items without objects -------------------------------------------------------------------


def test_an_item_without_objects_gets_nan_mask_columns_and_the_others_keep_theirs(tmp_path):
    x = images(6)
    mask = np.zeros((32, 32), bool)
    mask[8:20, 8:20] = True
    rows = [
        {"image": x[0], "label": 0},  # no mask at row 0: the other rows' masks still count
        {"image": x[1], "label": 0, "mask": np.zeros((32, 32), bool)},
        {"image": x[2], "label": 0, "boxes": np.zeros((0, 4))},
        {"image": x[3], "label": 0, "mask": mask},
        {"image": x[4], "label": 0, "boxes": [[1, 1, float("nan"), 9]]},
        {"image": x[5], "label": 0, "boxes": [[8, 8, 20, 20]]},
    ]
    table = explain_dataset(model(), rows, out=tmp_path / "out", batch_size=6, progress=False).table
    assert "not finite" in table.loc[4, "error"] and "row" not in table.loc[4, "error"].split(":")[0]
    for row in (0, 1, 2):
        assert (
            table.loc[row, "error"] == ""
            and np.isnan(table.loc[row, "energy_in_object"])
            and np.isnan(table.loc[row, "pointing_game"])
        )
    for row in (3, 5):
        assert (
            table.loc[row, "error"] == ""
            and 0 <= table.loc[row, "energy_in_object"] <= 1
            and table.loc[row, "pointing_game"] in (0.0, 1.0)
        )


# -- 10. decompression bombs --------------------------------------------------------------------


def bomb_png(path: Path, side: int = 20000) -> None:
    """A 1-bit grey PNG of side x side black pixels: about 60 KB on disk, 1.2 GB once decoded as RGB."""
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))  # noqa: E731
    row = b"\x00" * (1 + side // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row * 500) for _ in range(side // 500)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def test_images_over_the_pixel_limit_fail_without_being_decoded(tmp_path):
    folder = write_folder(tmp_path / "data")
    bomb_png(folder / "circle" / "zz_bomb.png")
    table = explain_dataset(model(), folder, out=tmp_path / "out", preprocess=preprocess, **QUIET).table
    bomb = table[table["path"] == "circle/zz_bomb.png"].iloc[0]
    assert "pixels, over the limit of 100,000,000" in bomb["error"] and "not decoded" in bomb["error"]
    with pytest.raises(
        ValueError, match="none of the first rows could be read: row 0: .*32 x 32 pixels, over the limit of 1,023"
    ):
        explain_dataset(
            model(), folder, out=tmp_path / "strict", preprocess=preprocess, max_pixels=32 * 32 - 1, **QUIET
        )
    from camwidgets.core.images import check_pixels

    check_pixels(folder / "circle" / "00.png", 32 * 32)  # at the limit, and without one, an image passes
    check_pixels(folder / "circle" / "zz_bomb.png", None)


# -- 11. sizes ----------------------------------------------------------------------------------


def test_sizes_are_checked_before_any_work_and_chunks_are_bounded(tmp_path):
    rows = [(image, 0) for image in images(5)]
    for settings, message in (
        ({"display_size": 0}, "display_size must be a whole number of pixels from 8 to 1024"),
        ({"display_size": -5}, "display_size must be"),
        ({"chunk_rows": 0}, "chunk_rows must be a positive whole number"),
        ({"batch_size": 2.5}, "batch_size must be a positive whole number"),
    ):
        with pytest.raises(ValueError, match=message):
            explain_dataset(model(), rows, out=tmp_path / "x", progress=False, **settings)
    assert not (tmp_path / "x").exists()
    results = explain_dataset(model(), rows, out=tmp_path / "big", chunk_rows=50000, progress=False)
    assert results.manifest["chunk_rows"] == 5 and results.maps.chunks[0] == 5
    many = [(image, 0) for image in images(100, size=16)]
    with pytest.raises(ValueError, match="use at most 64 rows per chunk"):
        explain_dataset(model(), many, out=tmp_path / "huge", chunk_rows=100, display_size=1024, progress=False)


# -- 12. damaged results ------------------------------------------------------------------------


@pytest.fixture
def run12(tmp_path):
    rows = [(image, i % 2) for i, image in enumerate(images(12))]
    out = tmp_path / "out"
    first = explain_dataset(model(), rows, out=out, **QUIET)
    return rows, out, first.table.copy(), np.asarray(first.maps[:])


def test_a_replaced_or_corrupted_chunk_is_found_and_computed_again_on_resume(run12):
    rows, out, table, maps = run12
    chunk = out / "chunks"
    (chunk / "000002.parquet").write_bytes((chunk / "000001.parquet").read_bytes())  # ids 4-7 where 8-11 belong
    (chunk / "000000.parquet").write_bytes(b"PAR1 not really")
    with pytest.warns(UserWarning, match=r"holds rows 4 to 7 \(4 rows\), not rows 8 to 11"):
        again = explain_dataset(model(), rows, out=out, **QUIET)
    assert again.table.equals(table) and np.array_equal(again.maps[:], maps)


def test_damaged_files_are_named_with_how_to_recover(run12):
    rows, out, table, maps = run12
    config = (out / "config.json").read_text()
    (out / "config.json").write_text(config[: len(config) // 2])
    with pytest.raises(ValueError, match=r"config.json is damaged .*resume=False"):
        explain_dataset(model(), rows, out=out, **QUIET)
    (out / "config.json").write_text(config)
    (out / "manifest.json").write_text('{"rows": 12, "chun')
    with pytest.raises(ValueError, match="manifest.json is damaged"):
        load_results(out)
    explain_dataset(model(), rows, out=out, **QUIET)  # merged again
    pq.write_table(pa.Table.from_pandas(table.drop(index=[3, 4]), preserve_index=False), out / "table.parquet")
    with pytest.raises(ValueError, match=r"holds 10 rows with ids 0 to 11, \[3, 4\] missing"):
        load_results(out)
    explain_dataset(model(), rows, out=out, **QUIET)
    chunk_file = next((out / "maps.zarr" / "display" / "c" / "1").rglob("0"))
    os.remove(chunk_file if chunk_file.is_file() else next(chunk_file.rglob("*")))
    with pytest.raises(ValueError, match="maps.zarr/display holds 2 of its 3 chunks"):
        load_results(out)
    with pytest.warns(UserWarning, match="maps.zarr/display has no maps for chunk 1"):
        again = explain_dataset(model(), rows, out=out, **QUIET)
    assert np.array_equal(again.maps[:], maps)
    import shutil

    shutil.rmtree(out / "maps.zarr" / "display")
    with pytest.raises(ValueError, match="lacks its map arrays"):
        load_results(out)


# -- 13. every file a row ------------------------------------------------------------------------


def test_gif_files_are_rows_and_a_folder_that_cannot_be_listed_is_an_error(tmp_path, monkeypatch):
    from PIL import Image

    folder = write_folder(tmp_path / "data")
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(folder / "square" / "x.gif")
    table = explain_dataset(model(), folder, out=tmp_path / "out", preprocess=preprocess, **QUIET).table
    assert table.set_index("path").loc["square/x.gif", "error"] == ""
    real = os.scandir

    def refuse(path=".", *args):
        if Path(path).name == "square":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args)

    monkeypatch.setattr(os, "scandir", refuse)
    with pytest.raises(OSError, match="cannot list .*square .*Permission denied.*fix its permissions"):
        explain_dataset(model(), folder, out=tmp_path / "out2", preprocess=preprocess, **QUIET)


# -- 17. messages -------------------------------------------------------------------------------


def test_report_and_command_line_mistakes_get_messages_that_say_what_to_do(run12, tmp_path, capsys):
    rows, out, table, maps = run12
    results = load_results(out)
    with pytest.raises(ValueError, match="column must be a column of numbers .*confidence"):
        results.to_html(tmp_path / "r.html", column="path")
    with pytest.raises(ValueError, match=r"rows lists row \[1\] more than once"):
        results.to_html(tmp_path / "r.html", rows=[1, 1, 2])
    folder = write_folder(tmp_path / "data")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert main(["explain-dataset", str(folder), "--out", str(a_file)]) == 2
    assert "is a file; pass a folder" in capsys.readouterr().err
    assert main(["explain-dataset", str(folder), "--out", str(a_file / "out")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: could not write") and "Traceback" not in error
    assert main(["explain", "--out", str(a_file / "x.png")]) == 1
    assert "could not write" in capsys.readouterr().err
    with pytest.raises(ValueError, match="is a file"):
        explain_dataset(model(), rows, out=a_file, progress=False)


def test_a_model_without_cached_weights_is_explained_before_any_download(tmp_path):
    environment = {
        **os.environ,
        "no_proxy": "",
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
    }  # any download would fail fast
    done = subprocess.run(
        [sys.executable, "-m", "camwidgets", "explain", "--model", "resnet18", "--out", str(tmp_path / "x.png")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert (
        "resnet18 has no weights in torch's cache" in done.stderr
        and "mobilenet_v2" in done.stderr
        and "--download" in done.stderr
    )
    assert "resnet18-f37072fd.pth" in done.stderr


def test_a_full_disk_leaves_no_temporary_file_and_the_run_resumes(tmp_path, monkeypatch):
    rows = [(image, 0) for image in images(8)]
    out = tmp_path / "out"

    def full(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        explain_dataset(model(), rows, out=out, **QUIET)
    monkeypatch.undo()
    assert not [p for p in out.rglob("*") if ".partial" in p.name]
    results = explain_dataset(model(), rows, out=out, **QUIET)
    assert (results.table["error"] == "").all() and len(results.table) == 8
