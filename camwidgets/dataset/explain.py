"""``explain_dataset``: class activation maps, predictions and metrics for every image of a dataset,
written to a folder as a Parquet table, uint8 maps in zarr and a JSON manifest.

The rows are cut into chunks of ``chunk_rows``; chunk N holds rows ``N * chunk_rows`` on and is
computed in batches of ``batch_size`` read by DataLoader workers. Under ``torchrun`` (or any
initialised ``torch.distributed`` group) rank r computes the chunks N with ``N % world_size == r``;
every chunk is computed the same way whichever rank takes it, so the merged files equal a single
process's. A finished chunk is never computed again with ``resume=True``.

Columns: ``id`` (row), ``path``, ``label`` (-1: none), ``predicted``, ``confidence`` (its softmax
probability), ``correct``, ``target`` (the class explained), ``target_probability``, ``error``
('' for a good row) and one column per metric: ``drop`` (relative fall of the target's probability
when the image is multiplied by its map, ``max(0, p - p') / p``), ``deletion`` and ``insertion``
(AUC of the curves), and with ground-truth masks ``energy_in_object`` (share of the map's mass in
the mask), ``mass_outside`` (1 - that) and ``pointing_game`` (1 when the map's maximum hits the mask).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset

from ..engine.explainer import Explainer
from ..engine.methods.registry import get_method
from ..engine.modules import evaluation_mode, model_device, select_output
from ..engine.progress import Progress
from ..engine.suggest import suggest_layer
from ..engine.targets import ClassifierOutputTarget
from .sources import Rows, as_dataset
from .store import RunFiles

__all__ = ["explain_dataset", "DatasetResults", "load_results", "METRICS", "MASK_METRICS"]

METRICS = ("confidence", "drop", "deletion", "insertion")
MASK_METRICS = ("energy_in_object", "mass_outside", "pointing_game")
TARGETS = ("predicted", "label")


@dataclass
class DatasetResults:
    """A finished run: ``table`` (a pandas DataFrame, one row per image), ``maps`` and ``grid_maps``
    (zarr arrays of uint8 maps), ``photos`` (uint8 thumbnails of the images as the model saw them),
    all read lazily and row-aligned with the table, and the ``manifest``."""

    out: Path
    table: Any
    maps: Any
    grid_maps: Any
    photos: Any
    manifest: dict

    def map(self, row: int) -> np.ndarray:
        """Row ``row``'s map at the display size as float32 in [0, 1]."""
        return np.asarray(self.maps[row], dtype=np.float32) / 255

    def stored(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The stored photos (N, S, S, 3) and map levels (N, S, S), uint8, of ``rows`` in the given
        order, read in row order (zarr's chunks once each)."""
        ids = np.asarray(rows, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        photos = np.empty((len(ids), *self.photos.shape[1:]), np.uint8)
        levels = np.empty((len(ids), *self.maps.shape[1:]), np.uint8)
        if ids.size:
            photos[order] = self.photos.get_orthogonal_selection((ids[order],))
            levels[order] = self.maps.get_orthogonal_selection((ids[order],))
        return photos, levels

    def thumbnails(self, rows: Sequence[int]) -> np.ndarray:
        """(N, S, S, 3) uint8: the stored photo of each of ``rows`` with its stored map blended (jet,
        half opacity), in the given order."""
        from ..widgets.pictures import overlay_thumbnails

        photos, levels = self.stored(rows)
        return overlay_thumbnails(photos, levels, photos.shape[1]) if len(photos) else photos

    def to_html(self, path: str | Path, rows: Any = None, *, column: str = "confidence", title: str | None = None, limit: int = 48) -> Path:
        """A self-contained HTML report of the run with ``rows`` in its gallery (default the ``limit``
        lowest by ``column``): see :func:`~camwidgets.dataset.report.write_report`."""
        from .report import write_report

        return write_report(self, path, rows, column=column, title=title, limit=limit)


def load_results(out: str | Path) -> DatasetResults:
    """The results of a finished :func:`explain_dataset` run in ``out``."""
    import json

    import pandas as pd
    import zarr

    files = RunFiles(out)
    if not files.manifest.exists():
        raise FileNotFoundError(f"{files.root} holds no finished run (no manifest.json); run explain_dataset(..., out={str(out)!r}) first")
    group = zarr.open_group(str(files.maps), mode="r")
    return DatasetResults(files.root, pd.read_parquet(files.table), group["display"], group["grid"], group["photos"], json.loads(files.manifest.read_text()))


def _distributed(device: Any) -> tuple[int, int, torch.device | None]:
    """(rank, world size, device of this rank): from an initialised process group, or set up from
    torchrun's environment (gloo on CPU, nccl with one GPU per rank by ``LOCAL_RANK``)."""
    import torch.distributed as dist

    if not dist.is_available():
        return 0, 1, device
    if not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        cuda = torch.cuda.is_available() and device in (None, "cuda")
        if cuda:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            device = torch.device("cuda", local)
        dist.init_process_group("nccl" if cuda else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), device
    return 0, 1, device


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def _collate(rows: list[dict]) -> list[dict]:
    return rows  # images may be missing (failed rows): batched by the run itself


def _first_row(rows: Rows) -> dict:
    """The first readable row, after the checks better made before any work: an empty dataset,
    labels that are not class indices, nothing readable."""
    if len(rows) == 0:
        raise ValueError("the dataset is empty; pass a dataset with at least one image")
    errors = []
    for index in range(min(len(rows), 8)):
        try:
            return rows.read(index)
        except TypeError:
            raise  # a wrong label type is the whole dataset's: say so now
        except Exception as error:
            errors.append(f"row {index}: {type(error).__name__}: {error}")
    raise ValueError("none of the first rows could be read: " + "; ".join(errors))


def _check_classes(rows: Rows, first: dict, classes: int) -> None:
    """The dataset's classes and the first label must fit the model's ``classes`` outputs."""
    dataset_classes = getattr(rows.dataset, "classes", None)
    if isinstance(dataset_classes, (list, tuple)) and len(dataset_classes) > classes:
        raise ValueError(f"the dataset has {len(dataset_classes)} classes but the model only {classes} outputs; pass the model trained on these classes")
    if first["label"] is not None and not 0 <= first["label"] < classes:
        raise ValueError(f"row {first['index']} has label {first['label']}, outside the model's {classes} outputs")


def explain_dataset(
    model: nn.Module,
    data: Any,
    *,
    method: str = "gradcam",
    target_layers: Any = None,
    targets: str | Callable[[int | None, int], int] = "predicted",
    metrics: Sequence[str] = ("confidence",),
    batch_size: int = 32,
    num_workers: int = 0,
    out: str | Path,
    resume: bool = True,
    progress: Any = None,
    device: Any = None,
    amp: bool = False,
    preprocess: Any = None,
    chunk_rows: int = 256,
    display_size: int = 64,
    output_selector: Any = None,
) -> DatasetResults | None:
    """Explain every image of ``data`` with ``method`` and write the results to ``out`` (see the
    module docstring); returns them (:func:`load_results`) on rank 0, None on the other ranks.

    ``targets``: ``"predicted"`` (each image's top class), ``"label"`` (its true class) or a callable
    ``(label, predicted) -> class``. ``metrics``: any of ``confidence``, ``drop``, ``deletion``,
    ``insertion``; the mask metrics are added when the dataset gives masks or boxes. ``progress``:
    None (a tqdm bar with images/s on rank 0), False, or a callable ``(done, total, description)``
    (returning False stops the run with ``Cancelled``; finished chunks stay).
    ``amp``: float16 autocast for the forwards on CUDA. ``output_selector`` picks the (B, classes)
    scores from a model returning a tuple or dict, as for the CAM classes. ``resume``: skip the chunks a run with the
    same settings finished in ``out``; False starts it again."""
    unknown = sorted(set(metrics) - set(METRICS) - set(MASK_METRICS))
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)} (mask metrics come with masks)")
    if not callable(targets) and targets not in TARGETS:
        raise ValueError(f"targets must be 'predicted', 'label' or a callable (label, predicted) -> class; got {targets!r}")
    if isinstance(batch_size, bool) or int(batch_size) < 1 or int(chunk_rows) < 1:
        raise ValueError("batch_size and chunk_rows must be positive numbers of images")
    spec = get_method(method)
    rank, world, device = _distributed(device)
    if device is not None:
        model.to(device)
    device = model_device(model)
    rows = Rows(as_dataset(data), preprocess)
    first = _first_row(rows)
    x = first["image"][None].to(device)
    with evaluation_mode(model), torch.no_grad():
        classes = int(select_output(model(x), output_selector).shape[-1])
    _check_classes(rows, first, classes)
    layers = list(target_layers) if target_layers is not None else [suggest_layer(model, x).name]
    explainer = Explainer(model, layers, output_selector=output_selector, cache=None)
    capture = explainer.capture(x, None, need_gradients=False)
    grid = tuple(int(s) for s in explainer.spatial(capture.records[0].activation, capture, capture.records[0].name).shape[2:])
    has_masks = first["mask"] is not None
    columns = [m for m in METRICS if m in metrics] + ([m for m in MASK_METRICS] if has_masks else [])
    files = RunFiles(out)
    config = {
        "model": type(model).__name__, "parameters": int(sum(p.numel() for p in model.parameters())), "method": spec.class_name,
        "layers": [name for name, _ in explainer.layers], "targets": targets if isinstance(targets, str) else getattr(targets, "__name__", "callable"),
        "metrics": columns, "rows": len(rows), "chunk_rows": int(chunk_rows), "batch_size": int(batch_size), "display_size": int(display_size),
        "grid": list(grid), "amp": bool(amp),
    }  # fmt: skip
    chunks = -(-len(rows) // int(chunk_rows))
    if rank == 0:
        files.start(config, resume)
        files.create_maps(len(rows), int(chunk_rows), grid, int(display_size))
    _barrier(world)
    mine = [index for index in range(chunks) if index % world == rank and not (resume and files.finished(index))]
    run = _ChunkRun(model, explainer, spec.name, targets, columns, grid, int(display_size), amp, device)
    total = sum(min(int(chunk_rows), len(rows) - index * int(chunk_rows)) for index in mine)
    with Progress(total, f"{spec.class_name} over {len(rows)} images", progress if rank == 0 or callable(progress) else False, unit="img") as bar:
        for index in mine:
            start = index * int(chunk_rows)
            subset = Subset(rows, range(start, min(start + int(chunk_rows), len(rows))))
            loader = DataLoader(subset, batch_size=int(batch_size), num_workers=num_workers, collate_fn=_collate)
            files.write_chunk(index, start, *run.chunk(loader, bar))
    _barrier(world)
    if rank != 0:
        return None
    names = getattr(rows.dataset, "classes", None)
    root = getattr(rows.dataset, "root", None)
    manifest = {
        **config, "chunks": chunks, "outputs": classes, "versions": _versions(),
        "classes": [str(name) for name in names] if isinstance(names, (list, tuple)) else None,
        "root": str(Path(root).resolve()) if isinstance(root, (str, Path)) else None,
    }  # fmt: skip
    files.merge(chunks, manifest)
    return load_results(out)


def _versions() -> dict[str, str]:
    import torchvision

    from .. import __version__

    return {"camwidgets": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__}


class _ChunkRun:
    """Computes one chunk's rows and maps, batch by batch."""

    def __init__(self, model: nn.Module, explainer: Explainer, method: str, targets: Any, columns: list[str], grid: tuple, display: int, amp: bool, device: torch.device) -> None:
        self.model, self.explainer, self.method, self.targets = model, explainer, method, targets
        self.columns, self.grid, self.display, self.amp, self.device = columns, grid, display, amp, device

    def chunk(self, loader: DataLoader, bar: Progress) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        """(table rows, grid maps, display maps, display photos) of the chunk ``loader`` reads."""
        import pyarrow as pa

        records: list[dict] = []
        grids, displays, photos = [], [], []
        for batch in loader:
            good = [row for row in batch if not row["error"]]
            sizes = {tuple(row["image"].shape) for row in good}
            if len(sizes) > 1:  # rows unlike the first one of the batch fail; the others go on
                wanted = tuple(good[0]["image"].shape)
                for row in good:
                    if tuple(row["image"].shape) != wanted:
                        row["error"] = f"ValueError: image size {tuple(row['image'].shape)} differs from {wanted}; end preprocess with a fixed resize and crop"
                good = [row for row in good if not row["error"]]
            computed = self._batch(good) if good else {}
            for row in batch:
                result = computed.get(row["index"])
                if result is None:
                    records.append(self._failed(row))
                    grids.append(np.zeros(self.grid, np.uint8))
                    displays.append(np.zeros((self.display, self.display), np.uint8))
                else:
                    records.append(result[0])
                    grids.append(result[1])
                    displays.append(result[2])
                photos.append(self._photo(row["photo"]))
            bar.advance(len(batch))
        return pa.Table.from_pylist(records, schema=self._schema()), np.stack(grids), np.stack(displays), np.stack(photos)

    def _photo(self, photo: np.ndarray | None) -> np.ndarray:
        """The photo at the display size (area-averaged), black for a row that could not be read."""
        import cv2

        if photo is None:
            return np.zeros((self.display, self.display, 3), np.uint8)
        return cv2.resize(photo, (self.display, self.display), interpolation=cv2.INTER_AREA)

    def _schema(self) -> Any:
        import pyarrow as pa

        fields = [("id", pa.int64()), ("path", pa.string()), ("label", pa.int64()), ("predicted", pa.int64()), ("confidence", pa.float32()),
                  ("correct", pa.bool_()), ("target", pa.int64()), ("target_probability", pa.float32()), ("error", pa.string())]  # fmt: skip
        fields += [(name, pa.bool_() if name == "pointing_game" else pa.float32()) for name in self.columns if name != "confidence"]
        return pa.schema(fields)

    def _failed(self, row: dict) -> dict:
        record = {"id": row["index"], "path": row["path"], "label": -1 if row["label"] is None else row["label"], "predicted": -1, "confidence": float("nan"),
                  "correct": False, "target": -1, "target_probability": float("nan"), "error": row["error"] or "not computed"}  # fmt: skip
        record.update({name: (False if name == "pointing_game" else float("nan")) for name in self.columns if name != "confidence"})
        return record

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        with evaluation_mode(self.model), torch.no_grad(), torch.autocast(x.device.type, dtype=torch.float16, enabled=self.amp and x.device.type == "cuda"):
            return torch.softmax(select_output(self.model(x), self.explainer.output_selector).float(), dim=1)

    def _batch(self, rows: list[dict]) -> dict[int, tuple[dict, np.ndarray, np.ndarray]]:
        from ..metrics import energy_pointing_game, pointing_game
        from ..metrics.cam_mult import multiply_tensor_with_cam
        from ..metrics.deletion import deletion_curve, insertion_curve

        x = torch.stack([row["image"] for row in rows]).to(self.device)
        labels = [row["label"] for row in rows]
        probabilities = None
        if self.targets == "predicted":
            targets = None  # the engine's top-class targets, from the forward that the maps need anyway
        elif self.targets == "label":
            if any(label is None for label in labels):
                raise ValueError("targets='label' needs a label for every image; some rows have none (use targets='predicted')")
            targets = [ClassifierOutputTarget(int(label)) for label in labels]
        else:  # the callable needs the prediction first: one extra forward
            probabilities = self._forward(x)
            targets = [ClassifierOutputTarget(int(self.targets(label, int(p)))) for label, p in zip(labels, probabilities.argmax(1).tolist())]
        self.explainer.last_capture = None
        maps = self.explainer.compute(self.method, x, targets).float().clamp(0, 1)
        capture = self.explainer.last_capture
        if probabilities is None:
            reusable = capture is not None and capture.input_tensor is x and isinstance(capture.outputs, torch.Tensor) and capture.outputs.ndim == 2
            probabilities = torch.softmax(capture.outputs.float(), dim=1) if reusable else self._forward(x)
        confidence, predicted = probabilities.max(dim=1)
        classes = [int(p) for p in predicted.tolist()]
        chosen = classes if targets is None else [int(t.category) for t in targets]
        targets = [ClassifierOutputTarget(c) for c in chosen]
        scores: dict[str, np.ndarray] = {}
        picked = probabilities[torch.arange(len(rows)), torch.tensor(chosen, device=self.device)]
        if "drop" in self.columns:
            after = self._forward(multiply_tensor_with_cam(x, maps))[torch.arange(len(rows)), torch.tensor(chosen, device=self.device)]
            scores["drop"] = (torch.clamp(picked - after, min=0) / picked.clamp(min=1e-12)).cpu().numpy()
        for name, curve in (("deletion", deletion_curve), ("insertion", insertion_curve)):
            if name in self.columns:
                scores[name] = np.asarray(curve(x, maps, targets, self.model, steps=10).auc, dtype=np.float32)
        if "energy_in_object" in self.columns:
            masks = np.stack([row["mask"] if row["mask"] is not None else np.zeros(maps.shape[1:], bool) for row in rows])
            energy = energy_pointing_game(maps, masks)
            scores.update({"energy_in_object": energy, "mass_outside": 1 - energy, "pointing_game": pointing_game(maps, masks)})
        grids = F.adaptive_avg_pool2d(maps[:, None], self.grid)[:, 0]
        displays = F.interpolate(maps[:, None], size=(self.display, self.display), mode="area")[:, 0]
        as_uint8 = lambda m: torch.round(m.clamp(0, 1) * 255).to(torch.uint8).cpu().numpy()  # noqa: E731
        grids, displays = as_uint8(grids), as_uint8(displays)
        out = {}
        for i, row in enumerate(rows):
            record = {
                "id": row["index"], "path": row["path"], "label": -1 if row["label"] is None else row["label"], "predicted": classes[i],
                "confidence": float(confidence[i]), "correct": row["label"] is not None and row["label"] == classes[i], "target": chosen[i],
                "target_probability": float(picked[i]), "error": "",
            }  # fmt: skip
            record.update({name: (bool(values[i]) if name == "pointing_game" else float(values[i])) for name, values in scores.items()})
            out[row["index"]] = (record, grids[i], displays[i])
        return out
