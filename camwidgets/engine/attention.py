"""Attention probabilities of a transformer, recorded for one call and for that call only.

Fused attention (``scaled_dot_product_attention``) never materialises the post-softmax matrix
``A = softmax(q k^T / sqrt(d))`` that rollout, gradient-weighted attention and LeGrad read. Each
supported kind of attention module is made to compute ``A`` explicitly inside
:func:`recorded_attention`, which records each module's ``A`` (B, heads, N, N) as the very tensor
the module multiplies with its values (so ``torch.autograd.grad`` with respect to it is the
gradient the papers use), and restores everything on the way out, whatever happens:

- ``nn.MultiheadAttention`` (torchvision's ``VisionTransformer``, open_clip's towers): the instance
  gets an explicit ``forward`` for the call (same weights, same masks), deleted afterwards;
- timm's ``Attention`` (a ``fused_attn`` flag and an ``attn_drop`` module): the flag is switched
  off and a hook on ``attn_drop`` reads its output; the flag is put back;
- Hugging Face attention (``config._attn_implementation``; ViT, CLIP, ...): the implementation is
  set to ``"eager"`` and a hook reads the probabilities the module returns; the setting is put back.

A block is the largest module around one attention module that holds no other (torchvision's
``encoder_layer_3``, timm's ``blocks.3``); :func:`attention_blocks` maps target layers to blocks.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .modules import forward_hooks

__all__ = ["AttentionBlock", "attention_modules", "attention_blocks", "recorded_attention", "has_attention"]


def _is_timm_attention(module: nn.Module) -> bool:
    return (
        hasattr(module, "fused_attn")
        and isinstance(getattr(module, "attn_drop", None), nn.Module)
        and hasattr(module, "num_heads")
    )


def _is_hugging_face_attention(module: nn.Module) -> bool:
    config = getattr(module, "config", None)
    return (
        config is not None
        and hasattr(config, "_attn_implementation")
        and all(isinstance(getattr(module, name, None), nn.Linear) for name in ("q_proj", "k_proj", "v_proj"))
    )


def attention_kind(module: nn.Module) -> str | None:
    """'mha', 'timm' or 'hugging_face' for a supported attention module, else None."""
    if isinstance(module, nn.MultiheadAttention):
        return "mha"
    if _is_timm_attention(module):
        return "timm"
    if _is_hugging_face_attention(module):
        return "hugging_face"
    return None


def attention_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The supported attention modules of ``model`` in ``named_modules()`` order (a module inside another
    attention module is not counted twice)."""
    found: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        if attention_kind(module) is not None and not any(name.startswith(f"{outer}.") for outer, _ in found):
            found.append((name, module))
    return found


def has_attention(model: nn.Module) -> bool:
    return bool(attention_modules(model))


@dataclass(frozen=True)
class AttentionBlock:
    """A transformer block: its name and module, and the attention module inside it."""

    name: str
    module: nn.Module
    attention_name: str
    attention: nn.Module


def _blocks(model: nn.Module) -> list[AttentionBlock]:
    """Every attention module's block: its largest ancestor (below the model) holding no other attention."""
    attentions = attention_modules(model)
    modules = dict(model.named_modules())
    blocks = []
    for name, attention in attentions:
        parts = name.split(".")
        block_name = name
        for depth in range(len(parts) - 1, 0, -1):
            ancestor = ".".join(parts[:depth])
            if sum(1 for other, _ in attentions if other.startswith(f"{ancestor}.")) > 1:
                break
            block_name = ancestor
        blocks.append(AttentionBlock(block_name, modules[block_name], name, attention))
    return blocks


def _inside(name: str, container: str) -> bool:
    return container == "" or name == container or name.startswith(f"{container}.")


def attention_blocks(model: nn.Module, layers: Sequence[tuple[str, nn.Module]] | None) -> list[AttentionBlock]:
    """The blocks the target ``layers`` name: the blocks inside a layer that holds attention (the encoder: all
    of its blocks), else the block around it (a block's ``ln_1``: that block); all blocks for None. ValueError
    when the model has no supported attention, or a layer is neither in nor around a block."""
    blocks = _blocks(model)
    if not blocks:
        raise ValueError(
            f"{type(model).__name__} has no attention this method can read (nn.MultiheadAttention, timm's Attention or a "
            "Hugging Face attention module): attention rollout, gradient-weighted attention and LeGrad explain "
            "transformers (torchvision, timm, Hugging Face and open_clip ViTs); pick a CAM method such as GradCAM"
        )
    if layers is None:
        return blocks
    chosen: list[AttentionBlock] = []
    for name, _ in layers:
        found = [block for block in blocks if _inside(block.name, name)] or [
            block for block in blocks if _inside(name, block.name)
        ]
        if not found:
            raise ValueError(
                f"layer {name!r} is neither a transformer block nor inside one; pick a block such as {blocks[-1].name!r}"
                f" (or a layer inside it, or the stack of blocks)"
            )
        chosen.extend(block for block in found if block not in chosen)
    return sorted(chosen, key=blocks.index)


def stack_up_to(model: nn.Module, chosen: Sequence[AttentionBlock]) -> list[AttentionBlock]:
    """The blocks of the last chosen block's stack (its siblings) from the first up to it: the layers
    attention rollout multiplies through."""
    last = chosen[-1]
    parent = last.name.rpartition(".")[0]
    siblings = [block for block in _blocks(model) if block.name.rpartition(".")[0] == parent]
    return siblings[: siblings.index(last) + 1]


def _explicit_multihead_forward(module: nn.MultiheadAttention, record: list[torch.Tensor]):
    """``nn.MultiheadAttention.forward`` computed step by step (self-attention with shared Q/K/V
    projections), appending its probabilities (B, heads, N, N) to ``record``."""

    def forward(
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not (query is key and key is value):
            raise ValueError("attention methods read self-attention only (query, key and value the same tokens)")
        x = query if module.batch_first else query.transpose(0, 1)
        batch, count, width = x.shape
        heads = module.num_heads
        q, k, v = F.linear(x, module.in_proj_weight, module.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (t.reshape(batch, count, heads, width // heads).transpose(1, 2) for t in (q, k, v))
        logits = q @ k.transpose(-2, -1) / math.sqrt(width // heads)
        logits = _masked(logits, attn_mask, key_padding_mask, is_causal, batch, heads)
        probabilities = logits.softmax(dim=-1)
        record.append(probabilities)
        out = module.out_proj((probabilities @ v).transpose(1, 2).reshape(batch, count, width))
        out = out if module.batch_first else out.transpose(0, 1)
        weights = (probabilities.mean(dim=1) if average_attn_weights else probabilities) if need_weights else None
        return out, weights

    return forward


def _masked(
    logits: torch.Tensor,
    attn_mask: torch.Tensor | None,
    key_padding_mask: torch.Tensor | None,
    is_causal: bool,
    batch: int,
    heads: int,
) -> torch.Tensor:
    """Logits with ``nn.MultiheadAttention``'s masks applied (True or -inf: not attended)."""
    count = logits.shape[-1]
    if attn_mask is None and is_causal:
        attn_mask = torch.ones(count, count, dtype=torch.bool, device=logits.device).triu(1)
    for mask in (attn_mask, key_padding_mask):
        if mask is None:
            continue
        if mask is key_padding_mask:
            mask = mask.reshape(batch, 1, 1, count)
        elif mask.ndim == 3:
            mask = mask.reshape(batch, heads, count, count)
        logits = logits.masked_fill(mask, float("-inf")) if mask.dtype == torch.bool else logits + mask
    return logits


def _check_multihead(name: str, module: nn.MultiheadAttention) -> None:
    if not module._qkv_same_embed_dim or module.in_proj_weight is None:
        raise ValueError(
            f"attention {name!r} projects keys and values from other widths; attention methods read self-attention"
        )
    if module.bias_k is not None or module.add_zero_attn:
        raise ValueError(
            f"attention {name!r} adds key/value tokens (bias_k, add_zero_attn); attention methods cannot lay them on the image"
        )


@contextlib.contextmanager
def recorded_attention(blocks: Sequence[AttentionBlock]) -> Iterator[list[list[torch.Tensor]]]:
    """While inside, each block's attention module records its probabilities (B, heads, N, N) in the yielded
    list (one list per block, one tensor per call); everything is restored on the way out."""
    records: list[list[torch.Tensor]] = [[] for _ in blocks]
    with contextlib.ExitStack() as stack:
        hooks = []
        for block, record in zip(blocks, records):
            kind = attention_kind(block.attention)
            if kind == "mha":
                _check_multihead(block.attention_name, block.attention)
                stack.enter_context(
                    _instance_forward(block.attention, _explicit_multihead_forward(block.attention, record))
                )
            elif kind == "timm":
                stack.enter_context(_attribute(block.attention, "fused_attn", False))
                hooks.append((block.attention.attn_drop, _recorder(record, lambda output: output)))
            else:
                stack.enter_context(_attribute(block.attention.config, "_attn_implementation", "eager"))
                hooks.append((block.attention, _recorder(record, _second)))
        stack.enter_context(forward_hooks(hooks))
        yield records


def _second(output: Any) -> Any:
    return output[1] if isinstance(output, (tuple, list)) and len(output) > 1 else None


def _recorder(record: list[torch.Tensor], pick: Any):
    def hook(module: nn.Module, inputs: Any, output: Any) -> None:
        probabilities = pick(output)
        if not isinstance(probabilities, torch.Tensor) or probabilities.ndim != 4:
            raise ValueError(f"{type(module).__name__} gave no attention probabilities (B, heads, N, N) to read")
        record.append(probabilities)

    return hook


@contextlib.contextmanager
def _instance_forward(module: nn.Module, forward: Any) -> Iterator[None]:
    """``module.forward`` replaced on the instance while inside (the class's afterwards)."""
    had = "forward" in module.__dict__
    previous = module.__dict__.get("forward")
    module.forward = forward
    try:
        yield
    finally:
        if had:
            module.forward = previous
        else:
            del module.forward


@contextlib.contextmanager
def _attribute(owner: Any, name: str, value: Any) -> Iterator[None]:
    """``owner.name = value`` while inside, the previous value afterwards."""
    previous = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, previous)
