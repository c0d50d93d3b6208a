"""The model's module hierarchy for the layer picker, from one probe forward.

Every module gets a node: its ``named_modules()`` path, type, output shape and whether it can be
explained (it ran exactly once and returned a spatial output in one of the engine's layouts: a
channels-first grid, a channels-last grid of a Swin-style stage, or ViT-style tokens, the last two
laid out by the engine itself, so they need no user code). ``stages`` are the selectable modules of
the shallowest depth that has at least four of them: the layers of the one-pass layer sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..engine import Layout, channels_of, describe_layout, evaluation_mode, forward_hooks, token_sources

__all__ = ["LayerNode", "ModelTree", "probe_model_tree"]

MAX_STAGES = 24


@dataclass(frozen=True)
class LayerNode:
    """One module: ``path`` ('' for the model), ``kind`` (class name), ``shape`` (output, as text),
    ``selectable`` (spatial output, ran once), ``layout`` (a :class:`~camwidgets.engine.reshape.Layout`
    value, or '' for none; only the spatial ones are selectable), ``reading`` (how the output is
    read, :func:`~camwidgets.engine.reshape.describe_layout`)."""

    path: str
    parent: str | None
    kind: str
    shape: str
    depth: int
    children: int
    selectable: bool
    layout: str
    reading: str = ""
    why: str = ""  # why it cannot be explained ('' when it can)
    channels: int = 0  # channels a CAM weighs in its output (0 without a grid): the price of channel-by-channel methods

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "parent": self.parent,
            "type": self.kind,
            "shape": self.shape,
            "depth": self.depth,
            "children": self.children,
            "selectable": self.selectable,
            "layout": self.layout,
            "reading": self.reading,
            "why": self.why,
        }


@dataclass
class ModelTree:
    nodes: list[LayerNode]
    suggested: str
    stages: list[str] = field(default_factory=list)
    reason: str = ""  # the suggestion's message: the layer, how its output is read, why

    @property
    def selectable(self) -> set[str]:
        return {node.path for node in self.nodes if node.selectable}


def _describe(output: Any) -> str:
    if isinstance(output, torch.Tensor):
        return "×".join(str(size) for size in output.shape[1:]) or "scalar"
    if isinstance(output, (tuple, list)):
        return f"{type(output).__name__}[{', '.join(_describe(item) for item in output[:4])}{', …' if len(output) > 4 else ''}]"
    if isinstance(output, dict):
        return "dict{" + ", ".join(f"{key}: {_describe(value)}" for key, value in list(output.items())[:4]) + "}"
    return type(output).__name__


def _why_not(
    name: str, output: Any, layout: Layout | None, calls: int, image_size: tuple[int, ...], depends: bool = True
) -> str:
    """Why a module cannot be explained, in the engine's words ('' when it can)."""
    if not name:
        return "the whole model: its output is the scores; pick a layer inside it"
    if calls == 0:
        return "did not run during the forward pass (defined but unused, or bypassed by a functional call)"
    if calls > 1:
        return f"runs {calls} times in one forward pass (a shared module); pick the block that contains it"
    if layout is None:
        return (
            f"its output ({_describe(output)}) has no spatial grid: it comes after global pooling, or is not a tensor"
        )
    if not depends:
        return "its output is the same for every image (a text tower, learned queries, a constant): it does not depend on the image"
    if layout is Layout.QUERIES:
        return f"its {output.shape[1]} tokens are the decoder's object queries, not places in the image; pick the backbone or the encoder"
    if not layout.spatial:
        return f"its output is {describe_layout(output, image_size, layout)}; pick the block around it"
    return ""


def _same_value(a: Any, b: Any) -> bool:
    """Whether two module outputs are equal tensor for tensor (bit for bit)."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    return False


def _image_independent(model: nn.Module, probe: torch.Tensor, outputs: dict[str, Any]) -> set[str]:
    """The modules whose output is the same for another image (one more forward of the probe changed):
    they do not depend on the image input (a CLIP wrapper's text tower, a detector's learned queries)."""
    other = probe + 0.1 * torch.randn(probe.shape, generator=torch.Generator().manual_seed(0)).to(
        probe.device, probe.dtype
    )
    same: set[str] = set()
    seen: set[str] = set()

    def make_hook(name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if name not in seen:
                seen.add(name)
                if name in outputs and _same_value(outputs[name], output):
                    same.add(name)

        return hook

    try:
        with (
            forward_hooks((module, make_hook(name)) for name, module in model.named_modules()),
            evaluation_mode(model),
            torch.no_grad(),
        ):
            model(other)
    except Exception:  # a model that refuses another input: nothing is known, nothing is hidden
        return set()
    return same


def _stages(nodes: list[LayerNode]) -> list[str]:
    selectable = [node for node in nodes if node.selectable and node.path]
    for depth in sorted({node.depth for node in selectable}):
        level = [node.path for node in selectable if node.depth == depth]
        if len(level) >= 4 or depth == max(node.depth for node in selectable):
            if len(level) > MAX_STAGES:
                step = len(level) / MAX_STAGES
                level = [level[int(i * step)] for i in range(MAX_STAGES - 1)] + [level[-1]]
            return level
    return []


def probe_model_tree(model: nn.Module, probe: torch.Tensor, suggested: str, reason: str = "") -> ModelTree:
    """Run ``model`` on ``probe`` (one image, no gradients, eval mode) with a forward hook on every
    module, and describe each module; a second forward on another image finds the modules whose
    output does not depend on the image (not selectable). Hooks and modes are restored whatever happens."""
    image_size = tuple(probe.shape[2:])
    outputs: dict[str, Any] = {}
    calls: dict[str, int] = {}

    def make_hook(name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            calls[name] = calls.get(name, 0) + 1
            outputs.setdefault(name, output)

        return hook

    with (
        forward_hooks((module, make_hook(name)) for name, module in model.named_modules()),
        evaluation_mode(model),
        torch.no_grad(),
    ):
        model(probe)
    constant = _image_independent(model, probe, outputs)
    sources = token_sources(model)
    nodes = []
    for name, module in model.named_modules():
        output = outputs.get(name)
        layout = sources.layout(name, output, image_size) if name in outputs else None
        why = _why_not(name, output, layout, calls.get(name, 0), image_size, name not in constant)
        parent = None if not name else (name.rsplit(".", 1)[0] if "." in name else "")
        nodes.append(
            LayerNode(
                path=name,
                parent=parent,
                kind=type(module).__name__,
                shape=_describe(output) if name in outputs else "not run",
                depth=0 if not name else name.count(".") + 1,
                children=sum(1 for child in module.children()),
                selectable=not why,
                layout=layout.value if layout is not None else "",
                reading=describe_layout(output, image_size, layout) if name in outputs else "",
                why=why,
                channels=channels_of(output, image_size, layout) if name in outputs else 0,
            )
        )
    return ModelTree(nodes, suggested, _stages(nodes), reason)
