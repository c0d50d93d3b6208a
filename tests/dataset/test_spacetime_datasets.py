"""explain_dataset on volumes, clips and signals: maps stored at the layer's grid (equal to the
engine's), a preview in the posters' plane, mask metrics against exact 3-D ground truth, a folder of
NIfTI files with classes as subfolders, and the DatasetExplorer opening a row as its kind."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import camwidgets as cw
from camwidgets.core.samples import plane
from camwidgets.data.motifs import MotifDataset, make_motif_signals
from camwidgets.data.motion import MotionDataset, make_motion_clips
from camwidgets.data.solids import make_solids
from camwidgets.data.spacetime_models import load_motifs_cnn, load_motion_cnn, load_solids_cnn
from camwidgets.explorer import DatasetExplorer

pytest.importorskip("zarr")


class SolidsWithMasks(torch.utils.data.Dataset):
    """Each volume once per solid it holds: the label that solid, its voxels the mask."""

    def __init__(self, count: int) -> None:
        self.batch = make_solids(count, seed=41)
        self.rows = [(n, k) for n in range(count) for k in range(4) if self.batch.labels[n, k] > 0]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        n, k = self.rows[index]
        return {"image": torch.from_numpy(self.batch.volumes[n]), "label": k, "mask": self.batch.masks[n, k]}


@pytest.mark.parametrize(
    "kind, load, dataset, options",
    [
        ("clip", load_motion_cnn, lambda: MotionDataset(make_motion_clips(6, seed=41)), {"input_kind": "clip"}),
        ("signal", load_motifs_cnn, lambda: MotifDataset(make_motif_signals(6, seed=41)), {}),
    ],
)
def test_clips_and_signals_are_stored_at_the_layer_grid_with_a_preview(tmp_path, kind, load, dataset, options):
    model, classes = load()
    data = dataset()
    results = cw.explain_dataset(model, data, out=tmp_path / kind, metrics=("confidence", "drop"), progress=False,
                                 batch_size=4, chunk_rows=4, targets="label", **options)  # fmt: skip
    assert results.manifest["input_kind"] == kind and results.table["error"].eq("").all()
    x = torch.stack([data[i]["image"] for i in range(len(data))])
    layer = results.manifest["layers"][0]
    maps = cw.GradCAM(model, [layer])(x, [cw.ClassifierOutputTarget(int(data[i]["label"])) for i in range(len(data))])
    grid = tuple(results.manifest["grid"])
    pooled = {1: F.adaptive_avg_pool1d, 3: F.adaptive_avg_pool3d}[len(grid)](torch.from_numpy(maps)[:, None], grid)[
        :, 0
    ]
    assert np.abs(results.grid_maps[:].astype(int) - np.rint(pooled.numpy() * 255)).max() <= 1
    preview = F.interpolate(torch.from_numpy(plane(maps, kind))[:, None], size=(64, 64), mode="area")[:, 0]
    assert np.abs(results.maps[:].astype(int) - np.rint(preview.numpy() * 255)).max() <= 1
    explorer = DatasetExplorer(results, model, data=data).open_in_explorer(2)
    assert explorer.session.kind == kind and explorer.overlay.sample_kind == kind


def test_volumes_from_a_folder_of_nifti_files_get_3d_mask_metrics(tmp_path):
    nibabel = pytest.importorskip("nibabel")
    model, classes = load_solids_cnn()
    batch = make_solids(4, seed=42)
    for n, volume in enumerate(batch.volumes[:, 0]):
        folder = tmp_path / "scans" / classes[int(np.argmax(batch.labels[n]))]
        folder.mkdir(parents=True, exist_ok=True)
        nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), str(folder / f"scan{n}.nii.gz"))
    (tmp_path / "scans" / "notes.txt").write_text("not a volume")
    results = cw.explain_dataset(model, tmp_path / "scans", out=tmp_path / "run", progress=False)
    assert results.manifest["input_kind"] == "volume" and len(results.table) == 4  # the text file is no row
    assert results.grid_maps.shape == (4, 8, 8, 8) and results.photos.shape == (4, 64, 64, 3)
    masked = cw.explain_dataset(model, SolidsWithMasks(6), out=tmp_path / "masks", method="layercam",
                                target_layers=["features.1.2"], targets="label", progress=False)  # fmt: skip
    assert {"pointing_game", "energy_in_object"} <= set(masked.table.columns)
    assert masked.table["pointing_game"].mean() >= 0.8 and masked.table["energy_in_object"].mean() > 0.2
    with pytest.raises(ValueError, match="deletion perturb 2-D images; for volumes choose from confidence, drop"):
        cw.explain_dataset(model, SolidsWithMasks(2), out=tmp_path / "refused", metrics=("deletion",), progress=False)
