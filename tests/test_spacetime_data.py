"""The synthetic volumes, clips and signals (camwidgets.data.solids, .motion, .motifs) and the models
trained on them: deterministic, exact ground truth, the shipped weights classify held-out items
(other seeds than training's) and the suggestion picks the documented layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from camwidgets.data.motifs import MOTIFS, make_motif_signals, motif
from camwidgets.data.motion import FRAMES, make_motion_clips
from camwidgets.data.solids import SOLIDS, make_solids, solid_mask
from camwidgets.data.spacetime_models import (
    MOTIFS_CNN_LAYER,
    MOTION_CNN_LAYER,
    SOLIDS_CNN_LAYER,
    WEIGHTS,
    load_motifs_cnn,
    load_motion_cnn,
    load_solids_cnn,
)
from camwidgets.engine import suggest_target_layer


def test_solids_are_deterministic_with_exact_separate_masks():
    first, again = make_solids(6, seed=4), make_solids(6, seed=4)
    assert np.array_equal(first.volumes, again.volumes) and np.array_equal(first.masks, again.masks)
    assert not np.array_equal(first.volumes, make_solids(6, seed=5).volumes)
    present = first.labels > 0.5
    assert np.array_equal(present, first.masks.any(axis=(2, 3, 4)))  # a label exactly where a solid is drawn
    assert (present.sum(axis=1) >= 1).all() and (present.sum(axis=1) <= 3).all()
    assert (first.masks.sum(axis=1) <= 1).all()  # solids never share a voxel
    for volume, masks in zip(first.volumes[:, 0], first.masks):  # solids brighter than the background
        inside, outside = volume[masks.any(0)], volume[~masks.any(0)]
        assert inside.mean() > outside.mean() + 1.2


def test_each_solid_has_its_own_shape():
    centre, rotation = np.array([16.0, 16.0, 16.0]), np.eye(3)
    volumes = {kind: solid_mask(kind, 32, centre, 14.0, rotation).sum() for kind in SOLIDS}
    assert volumes["sphere"] == max(volumes.values()) and len(set(volumes.values())) == len(
        SOLIDS
    )  # the same extent, four shapes
    assert volumes["sphere"] == pytest.approx(4 / 3 * np.pi * 7**3, rel=0.05)
    torus = solid_mask("torus", 32, centre, 14.0, rotation)
    assert not torus[16, 16, 16]  # the hole
    with pytest.raises(ValueError, match="sphere, cube, torus, cylinder"):
        solid_mask("cone", 32, centre, 14.0, rotation)


def test_motion_clips_move_one_shape_on_the_marked_frames_only():
    batch = make_motion_clips(8, seed=4)
    assert batch.clips.shape == (8, 3, FRAMES, 32, 32) and batch.clips.min() >= 0 and batch.clips.max() <= 1
    assert np.array_equal(batch.clips, make_motion_clips(8, seed=4).clips)
    for masks, still, moving in zip(batch.masks, batch.still, batch.moving):
        shifted = [not np.array_equal(masks[t], masks[t - 1]) for t in range(1, FRAMES)]
        assert shifted == list(moving[1:]) and not moving[0] and moving.sum() == 3
        assert len({int(m.sum()) for m in masks}) == 1  # the same shape all along, never cut by the border
        assert not (masks.any(0) & still).any()  # the distractor is clear of the mover's path


def test_motif_signals_hold_their_motif_in_its_interval():
    batch = make_motif_signals(16, seed=4)
    assert np.array_equal(batch.signals, make_motif_signals(16, seed=4).signals)
    masks = batch.masks()
    assert masks.shape == (16, 256) and np.array_equal(masks.sum(1), batch.intervals[:, 1] - batch.intervals[:, 0])
    assert set(batch.labels.tolist()) <= set(range(len(MOTIFS)))
    waves = [motif(kind, 40, 4.0) for kind in MOTIFS]
    assert all(np.abs(w).max() <= 1.0 + 1e-6 and abs(w[0]) < 0.05 for w in waves)  # tapered, unit peak
    with pytest.raises(ValueError, match="sine burst"):
        motif("spike", 40, 4.0)


@pytest.fixture(scope="module")
def held_out():
    return {
        "solids": make_solids(100, seed=7),
        "motion": make_motion_clips(100, seed=7),
        "motifs": make_motif_signals(200, seed=7),
    }


def test_the_shipped_models_classify_held_out_items(held_out):
    assert all(path.stat().st_size < 2_000_000 for path in WEIGHTS.values())
    solids, _ = load_solids_cnn()
    with torch.no_grad():
        present = solids(torch.from_numpy(held_out["solids"].volumes)) > 0
    per_label = (present.numpy() == (held_out["solids"].labels > 0.5)).mean()
    assert per_label > 0.9
    for load, batch, data in (
        (load_motion_cnn, held_out["motion"], "clips"),
        (load_motifs_cnn, held_out["motifs"], "signals"),
    ):
        model, classes = load()
        with torch.no_grad():
            guess = model(torch.from_numpy(getattr(batch, data))).argmax(1).numpy()
        assert (guess == batch.labels).mean() > 0.95, classes


def test_the_suggestion_picks_the_documented_layers(held_out):
    for load, batch, layer in (
        (load_solids_cnn, torch.from_numpy(held_out["solids"].volumes[:1]), SOLIDS_CNN_LAYER),
        (load_motion_cnn, torch.from_numpy(held_out["motion"].clips[:1]), MOTION_CNN_LAYER),
        (load_motifs_cnn, torch.from_numpy(held_out["motifs"].signals[:1]), MOTIFS_CNN_LAYER),
    ):
        model, _ = load()
        assert suggest_target_layer(model, batch) == layer
