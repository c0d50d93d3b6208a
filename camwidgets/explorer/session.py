"""The explorer's controller: owns the model, the images, one CaptureCache and the current view.

Every change from the front end becomes a candidate :class:`ViewState`, checked by
:meth:`ExplorerSession.validate` against what exists (layer paths from ``named_modules()``,
registered methods, class and image indices in range). :meth:`compute` makes the maps for a state;
only :meth:`commit` makes it current, so a failed computation leaves the previous state and maps.
Methods, eigen_smooth and normalisation changes reuse the cached capture (no new forward).
"""

from __future__ import annotations

import contextlib
import difflib
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.image_sets import ImageSet, load_images, normalises_itself, unit_tensor
from ..core.pictures import input_picture
from ..core.samples import SPACETIME_KINDS, SampleSet, input_kind_of, kind_of_model, load_samples, plane
from ..engine import (
    METHODS,
    NORMALISATIONS,
    Cancelled,
    CaptureCache,
    ChannelsLastForward,
    Explainer,
    ImageTextModel,
    ModelFingerprint,
    ProgressOption,
    SeveralInputs,
    TwinForward,
    check_prompts,
    chosen_batch_size,
    eager_model,
    evaluation_mode,
    get_method,
    is_detection_list,
    is_image_text_model,
    methods_for,
    model_device,
    model_dtype,
    model_lock,
    resolve_target_layers,
    select_output,
    suggest_layer,
)
from .model_tree import ModelTree, probe_model_tree
from .state import Estimate, Result, ViewState, gray_levels
from .tasks import DEFAULT_SCORE_THRESHOLD, TASKS, Task, TaskContext, build_task, check_region, infer_task

__all__ = ["ViewState", "ExplorerSession", "Result", "Estimate", "SWEEP_METHOD", "gray_levels"]

SWEEP_METHOD = "gradcam"
THUMBNAIL = 64
#: Copies timed for the perturbation methods' price before their batch size has been measured.
PROBE_ROWS = 8


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_threshold(value: Any) -> bool:
    """A number from 0 to 1 (not a bool)."""
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_)) and 0 <= value <= 1


def _image_text_parts(model: Any, tokenizer: Any, prompts: Any, task: str | None) -> tuple[Any, str | None, Any, tuple]:
    """(the module explained, the task, the ImageTextModel or None, the first phrases): an image–text model with
    its tokenizer is explained through its image tower for typed phrases."""
    if tokenizer is None and prompts is None:
        if is_image_text_model(model):
            raise ValueError(
                f"{type(model).__name__} is an image–text model: pass tokenizer= (its tokenizer) and prompts= (the first "
                "phrases, for example ['a red circle']) to explain where it finds a phrase"
            )
        return model, task, None, ()
    if not is_image_text_model(model):
        raise ValueError(
            f"tokenizer and prompts are for image–text models (open_clip, Hugging Face CLIP); {type(model).__name__} is not one"
        )
    if task not in (None, "text prompt"):
        raise ValueError(f"an image–text model is explained for text prompts; got task={task!r}")
    image_text = model if isinstance(model, ImageTextModel) else ImageTextModel(model, tokenizer)
    if not prompts:
        raise ValueError(
            "pass prompts=: the first phrases to explain, for example ['a red circle'] (more can be typed in the explorer)"
        )
    first = check_prompts(prompts)
    return image_text.image_tower, "text prompt", image_text, first


def _pass_kind(spec: Any) -> str:
    """How a method's passes are timed alike: with a backward, as masked or ablated copies, or plain forwards."""
    return "gradient" if spec.needs_gradients else "perturbation" if spec.family == "perturbation" else "forward"


def _several_parts(images: Any, explain_input: Any) -> tuple[Any, SeveralInputs | None, Any]:
    """(the explained input's batch, all the inputs, the explained one's key) when ``images`` holds several
    inputs: a dict of batches, a list of items that are tuples or dicts, or any of those with ``explain_input``;
    else ``(images, None, None)``."""
    items = (
        isinstance(images, (list, tuple)) and len(images) > 0 and all(isinstance(i, (tuple, Mapping)) for i in images)
    )
    if not (isinstance(images, Mapping) or items or explain_input is not None):
        return images, None, None
    if items:
        first = images[0]
        keys = list(first) if isinstance(first, Mapping) else list(range(len(first)))
        if any(len(item) != len(keys) or (isinstance(item, Mapping) and list(item) != keys) for item in images):
            raise ValueError(f"every item must hold the same inputs ({', '.join(map(repr, keys))})")
        stacked = {key: torch.stack([torch.as_tensor(np.asarray(item[key]) if not isinstance(item[key], torch.Tensor) else item[key])
                                     for item in images]) for key in keys}  # fmt: skip
        images = stacked if isinstance(first, Mapping) else tuple(stacked[k] for k in keys)
    inputs = SeveralInputs(images)
    if explain_input is None:
        if not inputs.image_like:
            raise ValueError("none of the inputs is an image (a floating point (B, C, H, W) batch) to explain")
        explain_input = inputs.image_like[0]
    key = inputs.key(explain_input)
    return inputs.tensor(key), inputs, key


class ExplorerSession:
    """Model + images + cache + current view; see the module docstring."""

    def __init__(
        self,
        model: nn.Module,
        images: Any,
        *,
        target_layers: Any = None,
        labels: Any = None,
        preprocess: Any = None,
        device: Any = None,
        output_selector: Any = None,
        task: str | None = None,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        cache_entries: int = 8,
        input_kind: str | None = None,
        tokenizer: Any = None,
        prompts: Any = None,
        explain_input: Any = None,
    ) -> None:
        model, task, self._image_text, self._prompts = _image_text_parts(model, tokenizer, prompts, task)
        images, inputs, key = _several_parts(images, explain_input)
        #: (all the inputs, the explained one's key) for a model with several inputs, else None
        self.several: tuple[SeveralInputs, Any] | None = (inputs, key) if inputs is not None else None
        model = eager_model(model)  # TorchScript refused; a torch.compile'd model explained through its original module
        if device is not None:
            model.to(device)
        if not _is_threshold(score_threshold):
            raise ValueError(
                f"score_threshold must be a number from 0 to 1 (detections below it are not shown); got {score_threshold!r}"
            )
        self.model = model
        self.output_selector = output_selector
        self.device = model_device(model)
        self.kind = input_kind_of(model, images, input_kind)
        if self.kind == "image":
            unit = normalises_itself(model)  # torchvision detectors take images in [0, 1] and normalise them themselves
            torchvision_model = type(model).__module__.startswith("torchvision.models") and not unit
            self.images: ImageSet | SampleSet = load_images(images, unit_tensor if unit and preprocess is None else preprocess, self.device,
                                                            torchvision_model, model_dtype(model), unit_range=unit)  # fmt: skip
        else:
            self.images = load_samples(images, self.kind, preprocess, self.device, model_dtype(model))
        #: the registered methods that explain this model on these inputs (the menus offer these)
        self.methods: list[str] = methods_for(model, self.images.batch.ndim - 2)
        self.cache = CaptureCache(max_entries=cache_entries)
        self.pass_seconds: dict[str, float] = {}  # measured seconds per pass, by method and by kind (estimate)
        self._task = task
        self._given_labels, self._preprocess, self._threshold = labels, preprocess, float(score_threshold)
        outputs = self._predict()
        self._derive_from_outputs(infer_task(outputs, len(self.images), self._task), outputs)
        probe = self.images.batch[:1]
        with self.bound():
            try:
                suggestion = suggest_layer(model, probe, self.output_selector)
                suggested, reason = suggestion.name, suggestion.message()
            except ValueError:
                if target_layers is None:
                    raise
                suggested, reason = "", ""  # nothing to mark; the user chose the layers
            self.tree: ModelTree = probe_model_tree(model, probe, suggested, reason)
        self.nodes = {node.path: node for node in self.tree.nodes}  # by module path
        layers = (
            (self.tree.suggested,)
            if target_layers is None
            else tuple(n for n, _ in resolve_target_layers(model, target_layers))
        )
        self.state = self.validate(self.task.start_state(), layers=layers)
        self.result: Result | None = None

    # -- facts about the model and images ---------------------------------------------------------
    def _derive_from_outputs(self, task: str, outputs: Any) -> None:
        """The labels and the task (scores, captions, target menu) from the model's ``outputs``, and
        the fingerprint of the model they were computed from."""
        context = self._task_context(self._given_labels, self._preprocess, self.output_selector)
        self.task: Task = build_task(task, outputs, context)
        self.labels = self.task.labels
        self._outputs_fingerprint = ModelFingerprint(self.model)

    def add_phrase(self, phrase: Any) -> int:
        """Text prompts: the index of ``phrase`` among the phrases tried (added, its similarities computed, if new)."""
        if self._image_text is None:
            raise ValueError(
                "phrases are for image–text models (CAMExplorer(model, images, tokenizer=..., prompts=...))"
            )
        index = self.task.add(phrase)
        self._prompts = tuple(self.task.labels)
        self.labels = self.task.labels
        return index

    def set_score_threshold(self, threshold: Any) -> None:
        """Show (and explain) only detections scoring at least ``threshold`` (0..1): the task is
        rebuilt on the outputs it has, the chosen box is dropped and the result with it (the next
        view computes afresh)."""
        if self.task.threshold is None:
            raise ValueError(f"the {self.task.name} task shows no scores to threshold")
        if not _is_threshold(threshold):
            raise ValueError(f"score_threshold must be a number from 0 to 1; got {threshold!r}")
        self._threshold = float(threshold)
        self.task = self.task.with_threshold(self._threshold)
        self.state, self.result = replace(self.state, box=None), None

    def follow_model(self) -> bool:
        """After the model changed (a replaced head, new weights: :class:`ModelFingerprint`), compute
        everything derived from its outputs again (scores, labels, captions, target menu) so that it
        follows the same model as the maps; drop the shown result and a target the new head lacks.
        True when something changed."""
        if self._outputs_fingerprint.matches(self.model):  # read only: no wait for a running method's lock
            return False
        with model_lock(self.model):  # the engine's one lock per model
            outputs = self._predict()
            task = infer_task(outputs, len(self.images), self._task)
            try:
                self._derive_from_outputs(task, outputs)
            except ValueError:  # the names given no longer fit the head: its class indices instead
                self._given_labels = None
                self._derive_from_outputs(task, outputs)
            if self.state.target is not None and self.state.target >= len(self.labels):
                self.state = replace(self.state, target=None)
            self.result = None
            return True

    def _predict(self) -> Any:
        """The model's outputs (after ``output_selector``) of one no-grad forward over the batch; its
        time per image is ``forward_seconds``."""
        with model_lock(self.model), self.bound(), evaluation_mode(self.model), torch.no_grad():
            started = time.perf_counter()
            try:
                outputs = self.model(self.images.batch)
            except RuntimeError as error:
                if self.kind in SPACETIME_KINDS:
                    layout = {"volume": "(B, C, D, H, W)", "clip": "(B, C, T, H, W)", "signal": "(B, C, L)"}[self.kind]
                    raise ValueError(
                        f"{type(self.model).__name__} refused the {self.kind}s as read, a batch of shape {tuple(self.images.batch.shape)} "
                        f"{layout}: {error}. Check the {self.kind}s' channels and size, or pass CAMExplorer(..., input_kind=...) "
                        "when they are another kind of input"
                    ) from error
                if kind_of_model(self.model) in SPACETIME_KINDS:
                    raise ValueError(
                        f"{type(self.model).__name__} takes {kind_of_model(self.model)}s, not photos: pass them as images "
                        "(arrays, tensors or files) and, if needed, CAMExplorer(..., input_kind='volume', 'clip' or 'signal')"
                    ) from error
                raise
            self.forward_seconds = (time.perf_counter() - started) / len(self.images)
        if (
            self.output_selector is None
        ):  # a task proposes one: a detector's reader, a segmenter's "out", a backbone's embedding key
            self._propose_selector(outputs)
        outputs = select_output(outputs, self.output_selector)
        if self.output_selector is None and isinstance(outputs, (tuple, list, dict)) and not is_detection_list(outputs):
            keys = (
                f" (its keys: {', '.join(map(str, outputs.keys()))})"
                if isinstance(outputs, dict)
                else f" of {len(outputs)} items"
            )
            raise ValueError(
                f"the model returns a {type(outputs).__name__}{keys}, and which part holds the class scores is not clear; pass CAMExplorer(..., output_selector=...) "
                "with the index, key or callable that picks the (B, classes) scores or (B, D) embeddings"
            )
        return outputs

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        """The (n, D) embeddings of a batch, no gradients (a concept from a box)."""
        with model_lock(self.model), self.bound(), evaluation_mode(self.model), torch.no_grad():
            return select_output(self.model(x), self.output_selector).float()

    def _task_context(self, labels: Any, preprocess: Any, selector: Any) -> TaskContext:
        """What the tasks are built from besides the outputs (see :class:`TaskContext`)."""
        size = tuple(self.images.batch.shape[-2:])
        return TaskContext(self.model, labels, preprocess, list(self.images.names), size, self._threshold, selector, self.images.batch, self._embed,
                           self._image_text, tuple(self._prompts))  # fmt: skip

    def _propose_selector(self, outputs: Any) -> None:
        """The first task (in :data:`TASKS` order, the one asked for if any) that proposes an output
        selector for the raw ``outputs`` sets it, and its task."""
        context = self._task_context(None, None, None)
        for name, kind in TASKS.items():
            if self._task in (None, name):
                proposal = kind.selector(outputs, context)
                if proposal is not None:
                    self.output_selector, self._task = proposal, name
                    return

    def shown_input(self, image: int) -> np.ndarray:
        """What the view draws of one input: the photo as the model sees it, or a volume's, clip's or
        signal's display array (:class:`~camwidgets.core.samples.SampleSet`)."""
        return self.images.photos[image] if self.kind == "image" else self.images.display[image]

    @property
    def probabilities(self) -> np.ndarray:
        """(B, classes) scores on the host: softmax (classifiers), sigmoid (multi-label)."""
        return self.task.scores

    def top_classes(self, image: int, k: int = 5) -> list[tuple[int, str, float]]:
        """``[(class index, name, score)]`` of one image, highest first: probabilities (classifiers),
        sigmoid scores (multi-label), best box scores (detectors), pixel shares (segmenters); none for embeddings."""
        return self.task.ranked(image, k)

    def caption(self, image: int, state: ViewState | None = None) -> str:
        """The gallery's caption of one image under ``state`` (default: the current one): 'name: top
        class' (or its boxes, the classes present, its cosine to the concept)."""
        return self.task.caption(image, self.state if state is None else state)

    def target_label(self, state: ViewState) -> str:
        return self.task.target_label(state)

    def at_image(self, state: ViewState, image: int) -> ViewState:
        """``state`` as it applies to another image of its result: a box or region chosen on the
        image shown does not (that image's map has its default target)."""
        if image == state.image:
            return state
        return replace(state, image=image, **dict.fromkeys(self.task.resets_on_image))

    def status_text(self, state: ViewState) -> str:
        """'Method · layer(s) · target[ · smoothing flags]', as the overlay's status line shows it; a
        method that reads layers of its own choosing (FullGrad) or ignores the class (EigenCAM) says so."""
        spec = get_method(state.method)
        flags = [name for name in ("aug_smooth", "eigen_smooth") if getattr(state, name)]
        layers = (
            ", ".join(state.layers)
            if spec.own_layers is None
            else f"its own layers ({spec.class_name} ignores the chosen one)"
        )
        target = self.target_label(state) if spec.class_specific else "class-agnostic (the same map for every class)"
        return " · ".join([spec.class_name, layers, target, *flags])

    def estimate(self, method: str, layers: Sequence[str] | None = None) -> Estimate:
        """The price of ``method`` for the batch at ``layers`` (default: the current ones):
        ``passes = ceil(forwards_per_image(channels) * images)``, ``channels`` summed over the layers;
        ``seconds = passes * seconds per pass``: as measured when this method last computed afresh, else
        as measured for a method of its kind (with or without a backward), else ``forward_seconds``
        (three times that when each pass has a backward)."""
        spec = get_method(method)
        passes = self._passes(method, layers, len(self.images))
        kind = _pass_kind(spec)
        per_pass = self.pass_seconds.get(method) or self.pass_seconds.get(kind)
        if per_pass is None and kind == "perturbation":
            per_pass = self.pass_seconds[kind] = self._masked_pass_seconds()
        if per_pass is None:
            per_pass = self.forward_seconds * (3 if spec.needs_gradients else 1)
        return Estimate(passes, passes * per_pass)

    def _masked_pass_seconds(self) -> float:
        """Seconds per image of the perturbation methods' forwards, measured once: a chunk of copies of the
        first image (the batch size ScoreCAM measured, else :data:`PROBE_ROWS`) through the model as they
        run it (its folded copy, channels-last; :mod:`~camwidgets.engine.inference_twin`), in a thread of
        its own as the explorer's jobs run (on a 2-core CPU a thread's forwards take up to 1.5x the main
        thread's: OpenMP's team for another thread)."""
        first = self.images.batch[:1]
        rows = chosen_batch_size(self.model, first) or PROBE_ROWS  # as many as a chunk of masked images
        x = first.expand(rows, *first.shape[1:]).contiguous()
        timed: list[Any] = []

        def probe() -> None:
            try:
                with torch.no_grad():
                    forward(x)  # the copy is made, traced and checked against the model at this batch shape
                    started = time.perf_counter()
                    forward(x)
                    timed.append((time.perf_counter() - started) / len(x))
            except BaseException as error:  # raised in the caller's thread below
                timed.append(error)

        with model_lock(self.model), self.bound(), evaluation_mode(self.model):
            forward = TwinForward(self.model, ChannelsLastForward(self.model)) if self.several is None else self.model
            thread = threading.Thread(target=probe, name="camwidgets-price", daemon=True)
            thread.start()
            thread.join()
        if isinstance(timed[0], BaseException):
            raise timed[0]
        return float(timed[0])

    def _passes(self, method: str, layers: Sequence[str] | None, images: int) -> int:
        spec = get_method(method)
        channels = sum(self.nodes[path].channels for path in (self.state.layers if layers is None else layers))
        return math.ceil(spec.forwards_per_image(channels) * images)

    def _measured(self, state: ViewState, images: int, seconds: float) -> None:
        """Calibrate the estimates from a computation that ran afresh (no capture reused)."""
        per_pass = seconds / max(1, self._passes(state.method, state.layers, images))
        self.pass_seconds[state.method] = self.pass_seconds[_pass_kind(get_method(state.method))] = per_pass

    # -- validation -------------------------------------------------------------------------------
    def validate(self, base: ViewState | None = None, **changes: Any) -> ViewState:
        """A new state from ``base`` (default: the current one) with ``changes``, each checked; raises
        ValueError/TypeError saying what is allowed. Nothing is changed."""
        base = self.state if base is None else base
        unknown = sorted(set(changes) - set(ViewState.__dataclass_fields__))
        if unknown:
            raise TypeError(
                f"unknown view setting(s) {', '.join(unknown)}; known: {', '.join(ViewState.__dataclass_fields__)}"
            )
        checked: dict[str, Any] = {}
        for key, value in changes.items():
            checked[key] = getattr(self, f"_check_{key}")(value)
        if checked.get("image", base.image) != base.image:  # a box or region of one image means nothing on another
            checked.update({field: None for field in self.task.resets_on_image if field not in changes})
        height, width = self.images.batch.shape[-2:]
        return self.task.check(replace(base, **checked), int(width), int(height))

    def _check_image(self, value: Any) -> int:
        if not _is_int(value) or not 0 <= value < len(self.images):
            raise ValueError(f"image must be an index from 0 to {len(self.images) - 1}; got {value!r}")
        return int(value)

    def _check_layers(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
            raise ValueError("layers must be a non-empty list of module paths from model.named_modules()")
        if len(set(value)) != len(value):
            raise ValueError("a layer is listed twice")
        for path in value:
            node = self.nodes.get(path)
            if node is None or not path:
                close = difflib.get_close_matches(path, list(self.nodes), n=3, cutoff=0.5)
                hint = f" Closest: {', '.join(close)}." if close else ""
                raise ValueError(f"the model has no module named {path[:80]!r}.{hint}")
            if not node.selectable:
                raise ValueError(
                    f"layer {path!r} ({node.kind}, output {node.shape}) cannot be explained: {node.why}; "
                    "pick a layer marked selectable in the tree"
                )
        nested = [(outer, inner) for outer in value for inner in value if inner.startswith(outer + ".")]
        if nested:
            outer, inner = nested[0]
            raise ValueError(f"{outer!r} contains {inner!r}; select one of them (their maps would share one output)")
        return tuple(value)

    def _check_method(self, value: Any) -> str:
        if not isinstance(value, str) or value not in METHODS:
            raise ValueError(f"unknown method {str(value)[:80]!r}; registered: {', '.join(METHODS)}")
        if value not in self.methods:
            spec = METHODS[value]
            spec.check_input_axes(self.images.batch)  # the input's kind: the engine's own words
            raise ValueError(
                f"{spec.class_name} reads attention, and {type(self.model).__name__} has none it can read (it explains "
                "torchvision, timm, Hugging Face and open_clip transformers); pick a CAM method such as GradCAM"
            )
        return value

    def _check_target(self, value: Any) -> int | None:
        if value is None:
            return None
        if not _is_int(value) or not 0 <= value < len(self.labels):
            raise ValueError(
                f"target must be a {self.task.target_noun} index from 0 to {len(self.labels) - 1} "
                f"(or None: {self.task.default_text()}); got {value!r}"
            )
        return int(value)

    def _check_box(self, value: Any) -> int | None:
        if value is not None and (not _is_int(value) or value < 0):
            raise ValueError(
                f"box must be the index of a detection of the image shown (or None); got {str(value)[:80]}"
            )
        return None if value is None else int(value)

    def _check_region(self, value: Any) -> tuple[int, int, int, int] | None:
        height, width = self.images.batch.shape[-2:]
        return check_region(value, int(width), int(height))

    def _check_concept(self, value: Any) -> int | None:
        if value is not None and not _is_int(value):
            raise ValueError(f"concept must be an image index; got {str(value)[:80]}")
        return None if value is None else int(value)

    def _check_flag(self, value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"expected True or False; got {value!r}")
        return bool(value)

    _check_aug_smooth = _check_eigen_smooth = _check_flag

    def _check_normalise(self, value: Any) -> str:
        if value not in NORMALISATIONS:
            raise ValueError(f"normalise must be one of {', '.join(NORMALISATIONS)}; got {value!r}")
        return value

    # -- computing ----------------------------------------------------------------------------------
    def targets(self, state: ViewState, images: Sequence[int] | None = None) -> list | None:
        """The targets of ``state`` for the images at indices ``images`` (default: all), one each;
        None: each image's top class."""
        return self.task.targets(state, range(len(self.images)) if images is None else list(images))

    def explainer(
        self, layers: Sequence[str], normalise: str = "image", cache: CaptureCache | bool = True
    ) -> Explainer:
        """An Explainer at ``layers`` with the session's cache (``True``), another cache, or none (``False``)."""
        chosen = self.cache if cache is True else (cache or None)
        return Explainer(
            self.model, list(layers), output_selector=self.output_selector, normalise=normalise, cache=chosen,
            several=self.several,
        )  # fmt: skip

    def bound(self) -> contextlib.AbstractContextManager:
        """While inside, ``self.model(batch)`` runs a model with several inputs on all of them (nothing otherwise)."""
        if self.several is None:
            return contextlib.nullcontext()
        inputs, key = self.several
        return inputs.explaining(self.model, key)

    def other_inputs(self, image: int) -> list[tuple[str, np.ndarray]]:
        """A model with several inputs: ``(name, uint8 (H, W, 3) picture)`` of each other image-like input of one
        item (min-max scaled; one channel as grey), to show beside the explained one."""
        if self.several is None:
            return []
        inputs, key = self.several
        return [(str(other), input_picture(inputs.tensor(other)[image])) for other in inputs.image_like if other != key]

    def compute(self, state: ViewState, progress: ProgressOption = False) -> Result:
        """The maps of ``state`` for every image (from the cached capture when there is one)."""
        return self.result_of(state, self.compute_maps(state, progress=progress))

    def compute_maps(
        self, state: ViewState, images: Sequence[int] | None = None, progress: ProgressOption = False
    ) -> np.ndarray:
        """(n, H, W) float32 maps of ``state`` for the images at indices ``images`` (default: all), on the host."""
        batch = self.images.batch if images is None else self.images.batch[list(images)]
        captures, started = self.cache.forward_passes, time.perf_counter()
        maps = self.explainer(state.layers, state.normalise).compute(
            state.method,
            batch,
            self.targets(state, images),
            aug_smooth=state.aug_smooth,
            eigen_smooth=state.eigen_smooth,
            progress=progress,
        )
        maps = maps.detach().float().cpu().numpy()
        if self.cache.forward_passes > captures or get_method(state.method).slow:
            self._measured(state, len(batch), time.perf_counter() - started)
        return maps

    def result_of(self, state: ViewState, maps: np.ndarray) -> Result:
        """A :class:`Result` of ``state`` from its (B, H, W) maps: their grey levels and value range."""
        levels, value_range = gray_levels(maps, state.normalise)
        return Result(state, maps, levels, value_range)

    def commit(self, result: Result) -> None:
        self.state, self.result = result.state, result

    def needs_worker(self, state: ViewState) -> bool:
        """Slow methods (more than a few forwards per image) run in a background thread."""
        return get_method(state.method).slow

    def sweep(self, state: ViewState, size: int = THUMBNAIL) -> tuple[list[str], np.ndarray]:
        """GradCAM at every stage the current image's target depends on (a detector's box score does
        not depend on its RPN head), from one forward and one backward: ``(paths, (L, size, size)
        uint8 levels)``."""
        x = self.images.batch[state.image : state.image + 1]
        found = self.explainer(self.tree.stages, cache=False).dependent_layer_maps(
            SWEEP_METHOD, x, self.targets(state, [state.image])
        )
        if not found:
            raise ValueError("the chosen target depends on none of the model's stages; choose another target")
        maps = torch.cat(list(found.values()))
        return list(found), self._thumbnail_levels(maps, size)

    def label_maps(
        self, state: ViewState, size: int = THUMBNAIL, most: int = 6
    ) -> tuple[list[tuple[int, str, float]], np.ndarray]:
        """Multi-label: GradCAM for each present label (sigmoid >= 0.5, at least the top one, at most
        ``most``) of the image shown at the current layers, from one forward of copies of the image:
        ``(present labels, (k, size, size) uint8 levels)``."""
        present = self.task.present(state.image)[:most]
        x = self.images.batch[state.image : state.image + 1].expand(len(present), *self.images.batch.shape[1:])
        targets = [self.task.label_target(c) for c, _, _ in present]
        maps = self.explainer(state.layers, cache=False).compute(SWEEP_METHOD, x, targets)
        return present, self._thumbnail_levels(maps, size)

    def _thumbnail_levels(self, maps: torch.Tensor, size: int) -> np.ndarray:
        """(n, size, size) uint8 levels of (n, *axes) maps in the posters' plane (:func:`plane`)."""
        flat = plane(maps.detach().float(), self.kind)
        small = F.interpolate(flat[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]
        return gray_levels(small.cpu().numpy(), "image")[0]

    def compare(
        self,
        state: ViewState,
        methods: Sequence[str],
        by: str = "images",
        layers: Sequence[str] | None = None,
        progress: Callable[[int, int, str], Any] | None = None,
    ) -> tuple[list[str], np.ndarray]:
        """A methods x images (the batch, current layers) or methods x layers (current image, each
        layer alone) grid: ``(column names, (M, N, H, W) float32 maps)``. Each method is computed
        once however often it is listed; ``progress(done, total, description)`` after each method may
        return False to cancel (:class:`Cancelled`)."""
        methods = list(dict.fromkeys(self._check_method(m) for m in methods))
        if not methods:
            raise ValueError("choose at least one method to compare")
        if by not in ("images", "layers"):
            raise ValueError(f"compare by 'images' or 'layers'; got {by!r}")
        columns = (
            list(self.images.names)
            if by == "images"
            else list(self._check_layers(list(layers) if layers else list(state.layers)))
        )
        rows: dict[str, np.ndarray] = {}
        ordered = sorted(
            methods, key=lambda m: not get_method(m).needs_gradients
        )  # gradient methods first: one capture serves all
        shared = self._compare_explainer(state, by, columns)
        for done, method in enumerate(ordered):

            def within(step: int, total: int, description: str, done: int = done) -> Any:  # a slow method's own steps
                return progress(done, len(ordered), description) if progress is not None else True

            rows[method] = self._compare_row(state, method, by, columns, shared, within)
            if progress is not None and progress(done + 1, len(ordered), "compare") is False:
                raise Cancelled(f"compare cancelled after {done + 1} of {len(ordered)} methods")
        return columns, np.stack([rows[m] for m in methods])

    def _compare_explainer(self, state: ViewState, by: str, columns: list[str]) -> Explainer:
        if by == "images":
            return self.explainer(state.layers, state.normalise)
        return self.explainer(columns, state.normalise, cache=CaptureCache())

    def _compare_row(
        self, state: ViewState, method: str, by: str, columns: list[str], shared: Explainer, progress: Callable
    ) -> np.ndarray:
        """One method's maps: for the batch at the current layers, or for the current image at each
        layer alone (``progress`` reports, and may cancel, a slow method's own steps)."""
        spec = get_method(method)
        if by == "images":
            return (
                shared.compute(
                    spec, self.images.batch, self.targets(state), eigen_smooth=state.eigen_smooth, progress=progress
                )
                .cpu()
                .numpy()
            )
        x = self.images.batch[state.image : state.image + 1]
        per_layer = shared.per_layer_maps(
            spec, x, self.targets(state, [state.image]), eigen_smooth=state.eigen_smooth, progress=progress
        )
        return torch.cat(per_layer).float().cpu().numpy()
