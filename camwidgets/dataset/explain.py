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

import contextlib
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset

from ..core import __version__
from ..core.images import MAX_PIXELS
from ..core.pictures import overlay_thumbnails
from ..core.samples import input_kind_of, kind_of_model, plane
from ..engine import (
    ClassifierOutputTarget,
    Explainer,
    Progress,
    SeveralInputs,
    evaluation_mode,
    get_method,
    layers_seeing,
    model_device,
    resolve_target_layers,
    select_output,
    suggest_layer,
)
from ..metrics.cam_mult import multiply_tensor_with_cam
from ..metrics.registry import METRICS as REGISTRY
from ..metrics.registry import mask_metrics, model_metrics
from .report import write_report
from .sources import Rows, as_dataset, item_parts
from .store import ARRAYS, RunFiles, chunk_span, read_json

__all__ = ["explain_dataset", "DatasetResults", "load_results", "METRICS", "MASK_METRICS"]

#: The columns a run can have (as the package comes; a metric registered later is one too): the
#: model's confidence, then the metric registry's that are cheap enough for datasets; the mask
#: metrics when the rows give masks or boxes.
METRICS = ("confidence", *model_metrics(datasets=True))
MASK_METRICS = tuple(mask_metrics())
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

    def class_name(self, index: int) -> str:
        """Class ``index``'s name from the manifest, or the index as text (also for an index the
        class list lacks: a run always opens)."""
        names = self.manifest.get("classes") or []
        return str(names[index]) if 0 <= index < len(names) else str(index)

    def class_indices(self) -> list[int]:
        """The classes a viewer offers: every named class, and any other label or prediction in the table."""
        seen = set(self.table["label"].tolist()) | set(self.table["predicted"].tolist())
        return sorted(set(range(len(self.manifest.get("classes") or []))) | {int(c) for c in seen if c >= 0})

    def confusion(self) -> tuple[list[int], np.ndarray]:
        """(classes, counts): counts[i, j] good labelled rows of true class ``classes[i]`` predicted
        as ``classes[j]``, over :meth:`class_indices`."""
        classes = self.class_indices()
        position = {c: i for i, c in enumerate(classes)}
        good = self.table[(self.table["error"] == "") & (self.table["label"] >= 0)]
        counts = np.zeros((len(classes), len(classes)), int)
        for label, predicted in zip(good["label"].tolist(), good["predicted"].tolist()):
            counts[position[int(label)], position[int(predicted)]] += 1
        return classes, counts

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

        photos, levels = self.stored(rows)
        return overlay_thumbnails(photos, levels, photos.shape[1]) if len(photos) else photos

    def to_html(
        self,
        path: str | Path,
        rows: Any = None,
        *,
        column: str = "confidence",
        title: str | None = None,
        limit: int = 48,
    ) -> Path:
        """A self-contained HTML report of the run with ``rows`` in its gallery (default the ``limit``
        lowest by ``column``): see :func:`~camwidgets.dataset.report.write_report`."""

        return write_report(self, path, rows, column=column, title=title, limit=limit)


def load_results(out: str | Path) -> DatasetResults:
    """The results of a finished :func:`explain_dataset` run in ``out``, checked: the manifest and the
    table readable, one table row per row id in order, every map array there with every chunk's
    maps. A damaged file is named, with how to recover."""
    import pandas as pd
    import zarr

    files = RunFiles(out)
    if not files.manifest.exists():
        raise FileNotFoundError(
            f"{files.root} holds no finished run (no manifest.json); run explain_dataset(..., out={str(out)!r}) first"
        )
    rerun = "run explain_dataset again with the same settings and resume=True: finished chunks are checked and merged again, damaged ones computed again"
    manifest = read_json(files.manifest, rerun)
    try:
        table = pd.read_parquet(files.table)
    except Exception as error:
        raise ValueError(
            f"{files.table} cannot be read ({type(error).__name__}: {str(error)[:120]}); {rerun}"
        ) from None
    rows = int(manifest.get("rows", -1))
    ids = table["id"].to_numpy() if "id" in table.columns else np.zeros(0, np.int64)
    if len(table) != rows or not np.array_equal(ids, np.arange(rows)):
        raise ValueError(
            f"{files.table} holds {len(table)} rows with ids {_id_summary(ids)}, but the run has rows 0 to {rows - 1}; {rerun}"
        )
    try:
        group = zarr.open_group(str(files.maps), mode="r")
        arrays = {name: group[name] for name in ARRAYS}
    except (KeyError, FileNotFoundError, ValueError) as error:
        raise ValueError(f"{files.maps} lacks its map arrays ({type(error).__name__}: {error}); {rerun}") from None
    for name, array in arrays.items():
        if array.shape[0] != rows or array.nchunks_initialized != array.nchunks:
            raise ValueError(
                f"{files.maps}/{name} holds {array.nchunks_initialized} of its {array.nchunks} chunks of maps for {array.shape[0]} rows (the run has {rows}); {rerun}"
            )
    return DatasetResults(files.root, table, arrays["display"], arrays["grid"], arrays["photos"], manifest)


def _id_summary(ids: np.ndarray) -> str:
    """A short account of row ids: their range, and which are repeated or missing."""
    if not len(ids):
        return "none"
    values, counts = np.unique(ids, return_counts=True)
    twice = values[counts > 1][:5].tolist()
    missing = sorted(set(range(int(values.max()) + 1)) - set(values.tolist()))[:5]
    return (
        f"{int(ids.min())} to {int(ids.max())}"
        + (f", {twice} more than once" if twice else "")
        + (f", {missing} missing" if missing else "")
    )


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
        raise ValueError(
            f"the dataset has {len(dataset_classes)} classes but the model only {classes} outputs; pass the model trained on these classes"
        )
    if first["label"] is not None and not 0 <= first["label"] < classes:
        raise ValueError(f"row {first['index']} has label {first['label']}, outside the model's {classes} outputs")


#: The most memory one chunk's maps and photos may take while it is computed.
CHUNK_BYTES = 256 * 2**20


def _whole_number(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_sizes(batch_size: Any, chunk_rows: Any, display_size: Any) -> None:
    """batch_size and chunk_rows positive whole numbers, display_size from 8 to 1024: else ValueError."""
    for name, value in (("batch_size", batch_size), ("chunk_rows", chunk_rows)):
        if not _whole_number(value) or value < 1:
            raise ValueError(f"{name} must be a positive whole number of images; got {value!r}")
    if not _whole_number(display_size) or not 8 <= display_size <= 1024:
        raise ValueError(
            f"display_size must be a whole number of pixels from 8 to 1024 (the stored maps' size); got {display_size!r}"
        )


def _bounded_chunk_rows(chunk_rows: int, rows: int, display_size: int) -> int:
    """``chunk_rows``, at most the number of rows; ValueError when one chunk's maps and photos
    would take more than :data:`CHUNK_BYTES`."""
    chunk_rows = min(int(chunk_rows), rows)
    per_row = 4 * int(display_size) ** 2  # display map and photo, uint8
    if chunk_rows * per_row > CHUNK_BYTES:
        raise ValueError(f"chunk_rows={chunk_rows} would hold {chunk_rows * per_row / 2**20:.0f} MB of maps at display_size={display_size}; "
                         f"use at most {CHUNK_BYTES // per_row} rows per chunk")  # fmt: skip
    return chunk_rows


def _check_out(out: Any, data: Any) -> None:
    """ValueError when the results folder is a file, or lies inside the data folder (it would become a class)."""
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a folder path for the results; got {type(out).__name__}")
    if Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"out={os.fspath(out)!r} is a file; pass a folder for the results (it is made if missing)")
    if not isinstance(data, (str, os.PathLike)):
        return
    folder, results = Path(data).resolve(), Path(out).resolve()
    if results == folder or results.is_relative_to(folder):
        raise ValueError(
            f"out={str(out)!r} lies inside the data folder {str(data)!r}, where its files would be read as images; pass an out folder outside it"
        )


def _gives_masks(rows: Rows, first: dict, sample: int = 16) -> bool:
    """Whether the dataset gives masks or boxes: the first readable row, or any of ``sample`` rows
    spread over the dataset (an item may declare an empty one: a row without objects)."""
    if first["mask"] is not None:
        return True
    for index in sorted(set(np.linspace(0, len(rows) - 1, min(sample, len(rows))).astype(int).tolist())):
        try:
            parts = item_parts(rows.dataset[index])
        except Exception:  # a bad row is the run's to report
            continue
        if parts["mask"] is not None or parts["boxes"] is not None:
            return True
    return False


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
    max_pixels: int | None = MAX_PIXELS,
    input_kind: str | None = None,
    explain_input: Any = None,
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
    same settings finished in ``out``; False starts it again. One run at a time may use ``out``:
    another one is refused, naming it. ``max_pixels``: image files with more pixels fail unread
    (None: no limit). ``display_size``: 8 to 1024 pixels; ``chunk_rows`` is at most the rows and
    bounded so that a chunk's maps fit in 256 MB. ``input_kind``: 'image', 'volume', 'clip' or
    'signal' (default: as the explorer decides, from the model and the files); for volumes, clips
    and signals the maps are stored at the layer's grid, with a preview in the plane of the poster
    (a volume's and a clip's maximum over depth or time, a signal's band) and the poster as photo;
    their metrics are ``confidence`` and ``drop`` (the others perturb 2-D images). A model with several
    inputs takes items whose image is a tuple or dict of tensors (:mod:`~camwidgets.dataset.sources`);
    ``explain_input`` names the input explained (default: the first image-like one), the target layers
    must see it, and the other inputs go along with each row."""
    columns, mask_columns = ("confidence", *model_metrics(datasets=True)), mask_metrics()  # the registry as it is now
    unknown = sorted(set(metrics) - set(columns) - set(mask_columns))
    if unknown:
        raise ValueError(
            f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(columns)} (mask metrics come with masks)"
        )
    if not callable(targets) and targets not in TARGETS:
        raise ValueError(
            f"targets must be 'predicted', 'label' or a callable (label, predicted) -> class; got {targets!r}"
        )
    _check_sizes(batch_size, chunk_rows, display_size)
    _check_out(out, data)
    spec = get_method(method)
    rank, world, device = _distributed(device)
    if device is not None:
        model.to(device)
    device = model_device(model)
    kind = _input_kind(model, data, input_kind)
    if kind != "image":
        flat = sorted(set(metrics) & set(IMAGE_ONLY_METRICS))
        if flat:
            raise ValueError(f"{', '.join(flat)} perturb 2-D images; for {kind}s choose from confidence, drop")
    rows = Rows(as_dataset(data, kind), preprocess, max_pixels=max_pixels, kind=kind, explain_input=explain_input)
    _check_out(out, getattr(rows.dataset, "root", None))
    first = _first_row(rows)
    x = first["image"][None].to(device)
    several = _row_inputs([first], x)
    with _bound(model, several), evaluation_mode(model), torch.no_grad():
        classes = int(select_output(model(x), output_selector).shape[-1])
    _check_classes(rows, first, classes)
    names = getattr(rows.dataset, "classes", None)
    names = [str(name) for name in names] if isinstance(names, (list, tuple)) else None
    rows.label_count = min(len(names), classes) if names else classes  # every row's label is checked against it
    if several is not None and target_layers is None:
        raise ValueError(f"with several inputs, pass target_layers: layers that see the explained input {several[1]!r}")
    with _bound(model, several):
        layers = list(target_layers) if target_layers is not None else [suggest_layer(model, x).name]
    explainer = Explainer(
        model,
        layers,
        output_selector=output_selector,
        cache=None,
        layer_calls=_layer_calls(model, several, resolve_target_layers(model, layers)),
    )
    capture = explainer.replace(several=several).capture(x, None, need_gradients=False)
    grid = tuple(
        int(s) for s in explainer.spatial(capture.records[0].activation, capture, capture.records[0].name).shape[2:]
    )
    columns = [m for m in columns if m in metrics] + (mask_columns if _gives_masks(rows, first) else [])
    chunk_rows = _bounded_chunk_rows(chunk_rows, len(rows), display_size)
    files = RunFiles(out)
    config = {
        "model": type(model).__name__, "parameters": int(sum(p.numel() for p in model.parameters())), "method": spec.class_name,
        "layers": [name for name, _ in explainer.layers], "targets": targets if isinstance(targets, str) else getattr(targets, "__name__", "callable"),
        "metrics": columns, "rows": len(rows), "chunk_rows": chunk_rows, "batch_size": int(batch_size), "display_size": int(display_size),
        "grid": list(grid), "amp": bool(amp), "classes": names, "input_kind": kind,
        "explain_input": None if several is None else several[1],
    }  # fmt: skip
    chunks = -(-len(rows) // chunk_rows)
    with files.lock(f"{spec.class_name} run") if rank == 0 else contextlib.nullcontext():
        if rank == 0:
            files.start(config, resume)
            files.create_maps(len(rows), chunk_rows, grid, int(display_size))
            if resume:
                files.recheck_finished(chunks, chunk_rows, len(rows))
        _barrier(world)
        mine = [index for index in range(chunks) if index % world == rank and not (resume and files.finished(index))]
        run = _ChunkRun(
            model, explainer, spec.name, targets, columns, grid, int(display_size), amp, device, classes, kind
        )
        total = sum(chunk_span(index, chunk_rows, len(rows))[1] for index in mine)
        with Progress(
            total,
            f"{spec.class_name} over {len(rows)} images",
            progress if rank == 0 or callable(progress) else False,
            unit="img",
        ) as bar:
            for index in mine:
                start, count = chunk_span(index, chunk_rows, len(rows))
                subset = Subset(rows, range(start, start + count))
                loader = DataLoader(subset, batch_size=int(batch_size), num_workers=num_workers, collate_fn=_collate)
                files.write_chunk(index, start, *run.chunk(loader, bar))
        if run.ignored_masks:
            warnings.warn(
                f"{run.ignored_masks} row(s) gave a mask or boxes, but the rows sampled before the run gave none, so the run has no "
                "mask columns; give every row a mask (an empty one where there is no object) to have them", stacklevel=2,
            )  # fmt: skip
        _barrier(world)
        if rank != 0:
            return None
        root = getattr(rows.dataset, "root", None)
        manifest = {
            **config, "chunks": chunks, "outputs": classes, "versions": _versions(),
            "root": str(Path(root).resolve()) if isinstance(root, (str, Path)) else None,
        }  # fmt: skip
        files.merge(chunks, chunk_rows, manifest)
    return load_results(out)


#: The metrics that perturb 2-D images, refused for volumes, clips and signals.
IMAGE_ONLY_METRICS = ("deletion", "insertion")
ADAPTIVE_POOLS = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}


def _input_kind(model: nn.Module, data: Any, asked: str | None) -> str:
    """What the rows are (:func:`~camwidgets.core.samples.input_kind_of`). Only a 3-D CNN outside
    torchvision leaves it open (volumes or clips): then the first file under a data folder, or the
    first item of a dataset, decides."""
    if asked is not None or kind_of_model(model) != "volume":
        return input_kind_of(model, [], asked)
    if isinstance(data, (str, os.PathLike)) and Path(data).is_dir():
        first = next((path for path in Path(data).rglob("*") if path.is_file() and not path.name.startswith(".")), None)
        return input_kind_of(model, str(first) if first is not None else [], None)
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and len(data):
        try:
            return input_kind_of(model, [item_parts(data[0])["image"]], None)
        except Exception:  # a bad first row is the run's to report
            pass
    return input_kind_of(model, [], None)


def _versions() -> dict[str, str]:
    import torchvision

    return {"camwidgets": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__}


def _same_size_groups(rows: list[dict]) -> list[list[dict]]:
    """``rows`` grouped by image size (and their other inputs' sizes), in order of first appearance (a batch is one size)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        others = tuple((str(k), tuple(v.shape)) for k, v in (row["others"] or {}).items())
        groups.setdefault((tuple(row["image"].shape), others), []).append(row)
    return list(groups.values())


def _row_inputs(rows: list[dict], explained: torch.Tensor) -> tuple[SeveralInputs, Any] | None:
    """A batch of rows of a model with several inputs as (the inputs, the explained key), the explained
    batch ``explained`` in its place; None for a model with one input."""
    if rows[0]["others"] is None:
        return None
    key = rows[0]["explained"]
    others = {k: torch.stack([row["others"][k] for row in rows]) for k in rows[0]["others"]}
    items = {**others, key: explained}
    if all(isinstance(k, int) for k in items):
        return SeveralInputs(tuple(items[k] for k in sorted(items))), key
    return SeveralInputs(items), key


def _layer_calls(model: nn.Module, several: tuple[SeveralInputs, Any] | None, layers: list) -> list[int] | None:
    """Which call of each target layer reads the explained input (a layer shared by the inputs runs once per
    input); ValueError for a layer that does not see it."""
    if several is None:
        return None
    inputs, key = several
    seeing = {call.name: call.call for call in layers_seeing(model, inputs, key, layers)}
    blind = [name for name, _ in layers if name not in seeing]
    if blind:
        raise ValueError(f"the target layer(s) {', '.join(blind)} do not see input {key!r}; pick layers of its branch")
    return [seeing[name] for name, _ in layers]


def _bound(model: nn.Module, several: tuple[SeveralInputs, Any] | None) -> contextlib.AbstractContextManager:
    return several[0].explaining(model, several[1]) if several is not None else contextlib.nullcontext()


class _ChunkRun:
    """Computes one chunk's rows and maps, batch by batch."""

    def __init__(
        self,
        model: nn.Module,
        explainer: Explainer,
        method: str,
        targets: Any,
        columns: list[str],
        grid: tuple,
        display: int,
        amp: bool,
        device: torch.device,
        classes: int,
        kind: str = "image",
    ) -> None:
        self.model, self.explainer, self.method, self.targets = model, explainer, method, targets
        self.kind = kind
        self.columns, self.grid, self.display, self.amp, self.device, self.classes = (
            columns,
            grid,
            display,
            amp,
            device,
            classes,
        )
        self.masks = any(REGISTRY[name].needs_mask for name in columns if name in REGISTRY)
        self.ignored_masks = 0  # rows that gave a mask in a run without mask columns

    def chunk(self, loader: DataLoader, bar: Progress) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        """(table rows, grid maps, display maps, display photos) of the chunk ``loader`` reads."""
        import pyarrow as pa

        records: list[dict] = []
        grids, displays, photos = [], [], []
        for batch in loader:
            computed: dict[int, tuple[dict, np.ndarray, np.ndarray]] = {}
            for group in _same_size_groups(
                [row for row in batch if not row["error"]]
            ):  # images of another size are their own batch
                computed.update(self._batch(group))
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
        return (
            pa.Table.from_pylist(records, schema=self._schema()),
            np.stack(grids),
            np.stack(displays),
            np.stack(photos),
        )

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
        fields += [(name, pa.float32()) for name in self.columns if name != "confidence"]
        return pa.schema(fields)

    def _failed(self, row: dict) -> dict:
        record = {"id": row["index"], "path": row["path"], "label": -1 if row["label"] is None else row["label"], "predicted": -1, "confidence": float("nan"),
                  "correct": False, "target": -1, "target_probability": float("nan"), "error": row["error"] or "not computed"}  # fmt: skip
        record.update({name: float("nan") for name in self.columns if name != "confidence"})
        return record

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        with (
            evaluation_mode(self.model),
            torch.no_grad(),
            torch.autocast(x.device.type, dtype=torch.float16, enabled=self.amp and x.device.type == "cuda"),
        ):
            return torch.softmax(select_output(self.model(x), self.explainer.output_selector).float(), dim=1)

    def _chosen_classes(self, rows: list[dict], x: torch.Tensor) -> tuple[list[int | None], torch.Tensor | None]:
        """Each row's class to explain (None: its top class) and the probabilities when a callable
        needed them; a row whose class cannot be had gets its ``error`` and None."""
        labels = [row["label"] for row in rows]
        if self.targets == "predicted":
            return [None] * len(rows), None
        if self.targets == "label":
            for row in rows:
                if row["label"] is None:
                    row["error"] = (
                        "ValueError: targets='label' needs a label and this row has none; give it one, or use targets='predicted'"
                    )
            return labels, None
        probabilities = self._forward(x)  # the callable needs the prediction first: one extra forward
        chosen: list[int | None] = []
        for row, label, top in zip(rows, labels, probabilities.argmax(1).tolist()):
            try:
                value = self.targets(label, int(top))
                if (
                    isinstance(value, bool)
                    or not isinstance(value, (int, np.integer))
                    or not 0 <= int(value) < self.classes
                ):
                    raise ValueError(
                        f"the targets callable returned {value!r} (label {label}, predicted {top}); it must return a class index from 0 to {self.classes - 1}"
                    )
                chosen.append(int(value))
            except Exception as error:  # this row fails; the others go on
                row["error"] = f"{type(error).__name__}: {error}"
                chosen.append(None)
        return chosen, probabilities

    def _batch(self, rows: list[dict]) -> dict[int, tuple[dict, np.ndarray, np.ndarray]]:
        """Records, grid maps and display maps of ``rows`` (one image size) by row id; a row that
        fails (no class to explain, a non-finite output or map) is left out with its ``error`` set."""

        x = torch.stack([row["image"] for row in rows]).to(self.device)
        several = _row_inputs(rows, x)
        with _bound(self.model, several):
            return self._computed(rows, x, self.explainer.replace(several=several) if several else self.explainer)

    def _computed(
        self, rows: list[dict], x: torch.Tensor, explainer: Explainer
    ) -> dict[int, tuple[dict, np.ndarray, np.ndarray]]:
        """:meth:`_batch` for the batch ``x`` of ``rows``, through ``explainer``."""
        wanted, probabilities = self._chosen_classes(rows, x)
        keep = [i for i, row in enumerate(rows) if not row["error"]]
        if len(keep) < len(rows):
            rows, wanted, x = [rows[i] for i in keep], [wanted[i] for i in keep], x[keep]
            probabilities = probabilities[keep] if probabilities is not None else None
        if not rows:
            return {}
        targets = None if self.targets == "predicted" else [ClassifierOutputTarget(int(c)) for c in wanted]  # type: ignore[arg-type]
        explainer.last_capture = None
        maps = explainer.compute(self.method, x, targets).float()
        capture = explainer.last_capture
        if probabilities is None:
            reusable = (
                capture is not None
                and capture.input_tensor is x
                and isinstance(capture.outputs, torch.Tensor)
                and capture.outputs.ndim == 2
            )
            probabilities = torch.softmax(capture.outputs.float(), dim=1) if reusable else self._forward(x)
        finite_output = torch.isfinite(probabilities).all(dim=1).tolist()
        finite_map = torch.isfinite(maps).flatten(1).all(dim=1).tolist()
        maps = torch.nan_to_num(maps, nan=0.0).clamp(0, 1)
        confidence, predicted = probabilities.max(dim=1)
        classes = [int(p) for p in predicted.tolist()]
        chosen = classes if targets is None else [int(t.category) for t in targets]
        targets = [ClassifierOutputTarget(c) for c in chosen]
        scores: dict[str, np.ndarray] = {}
        each = (torch.arange(len(rows)), torch.tensor(chosen, device=self.device))  # (row, its class) per image
        picked = probabilities[each]
        after = None  # the probabilities of the images times their maps, computed once for every metric that reads them
        for name in self.columns:
            spec = REGISTRY.get(name)
            if spec is None or spec.needs_mask:
                continue
            if spec.from_scores is not None:
                if after is None:
                    after = self._forward(multiply_tensor_with_cam(x, maps))[each]
                scores[name] = spec.from_scores(picked.clamp(min=1e-12), after).cpu().numpy()
            else:
                scores[name] = np.asarray(
                    spec.per_image(x, maps, targets, self.model, **spec.dataset_options), dtype=np.float32
                )
        if self.masks:
            scores.update(self._mask_scores(rows, maps if maps.ndim > 2 else maps[:, None]))
        else:
            self.ignored_masks += sum(row["mask"] is not None for row in rows)
        grids = ADAPTIVE_POOLS[len(self.grid)](maps[:, None], self.grid)[:, 0]
        flat = plane(maps, self.kind)  # the posters' plane
        displays = F.interpolate(flat[:, None], size=(self.display, self.display), mode="area")[:, 0]
        as_uint8 = lambda m: torch.round(m.clamp(0, 1) * 255).to(torch.uint8).cpu().numpy()  # noqa: E731
        grids, displays = as_uint8(grids), as_uint8(displays)
        out = {}
        for i, row in enumerate(rows):
            if not finite_output[i] or not finite_map[i]:
                what = "the model's output" if not finite_output[i] else "the map"
                row["error"] = (
                    f"ValueError: {what} for this image is not finite (NaN or infinity); check the image and the model"
                )
                continue
            record = {
                "id": row["index"], "path": row["path"], "label": -1 if row["label"] is None else row["label"], "predicted": classes[i],
                "confidence": float(confidence[i]), "correct": row["label"] is not None and row["label"] == classes[i], "target": chosen[i],
                "target_probability": float(picked[i]), "error": "",
            }  # fmt: skip
            record.update({name: float(values[i]) for name, values in scores.items()})
            out[row["index"]] = (record, grids[i], displays[i])
        return out

    @staticmethod
    def _mask_scores(rows: list[dict], maps: torch.Tensor) -> dict[str, np.ndarray]:
        """The mask columns of ``rows`` (the registry's mask metrics): NaN for a row without an
        object (no mask, an empty one); a signal's maps and masks are one-row images."""
        present = [i for i, row in enumerate(rows) if row["mask"] is not None and row["mask"].any()]
        columns = {}
        for name in mask_metrics():
            values = np.full(len(rows), np.nan, np.float32)
            if present:
                masks = np.stack([rows[i]["mask"] for i in present]).reshape(maps[present].shape)
                values[present] = REGISTRY[name].per_image(maps[present], masks)
            columns[name] = values
        return columns
