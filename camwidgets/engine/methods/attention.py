r"""Transformer-native methods: maps read from the attention probabilities themselves.

Notation: ``A_l`` (B, heads, N, N) block ``l``'s post-softmax attention (query rows, key columns),
``p`` the class and register tokens before the patch grid, ``E_h`` the mean over heads, ``I`` the
identity. Each method returns the relevance of the ``N - p`` patch tokens, laid on their grid and
finished as every map is (``engine.maps.finish_maps``). The attention is recorded for the call only
(``engine.attention``). Target layers choose blocks (a block, a layer inside it, or the stack of
blocks); rollout and gradient-weighted attention run through the stack up to the last chosen block,
LeGrad averages the chosen blocks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ..attention import AttentionBlock, attention_blocks, recorded_attention, stack_up_to
from ..capture import _score, check_targets, select_output, top_class_targets
from ..maps import finish_maps
from ..modules import evaluation_mode, explained_rank_errors, forward_hooks, model_lock
from ..reshape import token_grid
from .registry import MethodCall, MethodSpec

__all__ = ["attention_rollout", "gradient_weighted_attention", "legrad", "token_head", "SPECS"]

HEAD_FUSIONS = ("mean", "max", "min")


def _fuse_heads(attention: torch.Tensor, how: str) -> torch.Tensor:
    if how == "mean":
        return attention.mean(dim=1)
    return attention.amax(dim=1) if how == "max" else attention.amin(dim=1)


def rollout(attentions: Sequence[torch.Tensor], head_fusion: str = "mean", discard_ratio: float = 0.0) -> torch.Tensor:
    r"""Attention rollout (Abnar & Zuidema 2020, https://arxiv.org/abs/2005.00928):
    ``R = Â_L ... Â_1`` with ``Â_l = rownorm(0.5 fuse_h(A_l) + 0.5 I)``, ``fuse_h`` the mean (or max, min)
    over heads; ``discard_ratio`` zeroes that share of each image's weakest fused attention first (never
    the class token's own column). Returns R (B, N, N)."""
    result = None
    for attention in attentions:
        fused = _fuse_heads(attention.float(), head_fusion)
        if discard_ratio > 0:
            flat = fused.flatten(1)
            count = int(flat.shape[1] * discard_ratio)
            if count:
                keep = torch.ones_like(flat, dtype=torch.bool).scatter(
                    1, flat.topk(count, dim=1, largest=False).indices, False
                )
                keep[:, 0] = True  # the class token's attention to itself stays
                fused = (flat * keep).reshape(fused.shape)
        eye = torch.eye(fused.shape[-1], device=fused.device, dtype=fused.dtype)
        step = 0.5 * fused + 0.5 * eye
        step = step / step.sum(dim=-1, keepdim=True)
        result = step if result is None else step @ result
    assert result is not None
    return result


def gradient_weighted(attentions: Sequence[torch.Tensor], gradients: Sequence[torch.Tensor]) -> torch.Tensor:
    r"""Gradient-weighted attention (Chefer, Gur & Wolf 2021, "Generic attention-model explainability",
    https://arxiv.org/abs/2103.15679): ``R = I``, then for each block in order ``R += Ā_l R`` with
    ``Ā_l = E_h[(∇A_l ⊙ A_l)^+]``. Returns R (B, N, N)."""
    result = None
    for attention, gradient in zip(attentions, gradients):
        weighted = torch.relu(gradient.float() * attention.float()).mean(dim=1)
        if result is None:
            result = torch.eye(weighted.shape[-1], device=weighted.device).expand_as(weighted)
        result = result + weighted @ result
    assert result is not None
    return result


def _finish_rows(call: MethodCall, relevance: torch.Tensor) -> torch.Tensor:
    """Final maps from R (B, N, N): the class token's row over the patch tokens (the mean row without a
    class token), laid on the patch grid and finished."""
    prefix, _ = token_grid(relevance.shape[-1], tuple(call.input_tensor.shape[2:]))
    row = relevance[:, 0] if prefix > 0 else relevance.mean(dim=1)
    return _finish(call, row[:, prefix:], relevance.shape[-1])


def _forward(
    call: MethodCall, blocks: Sequence[AttentionBlock], need_gradients: bool, block_inputs: bool = False
) -> tuple[Any, list[torch.Tensor], list[torch.Tensor]]:
    """One forward of the model on the call's batch with the blocks' attention recorded: (scores-selected
    outputs, attention per block, block outputs). With ``need_gradients`` autograd records from the first
    block on (what runs before it is a constant), or with ``block_inputs`` from each block's own input
    on (so a score read from block ``l`` depends on no earlier block's attention)."""
    model, x = call.explainer.model, call.input_tensor
    outputs: list[torch.Tensor] = []

    def start_graph(module: nn.Module, args: tuple, kwargs: dict) -> tuple | None:
        torch.set_grad_enabled(True)  # until the forward's no_grad context ends
        if args and isinstance(args[0], torch.Tensor):
            return (args[0].detach().requires_grad_(True), *args[1:]), kwargs
        if isinstance(kwargs.get("hidden_states"), torch.Tensor):
            return args, {**kwargs, "hidden_states": kwargs["hidden_states"].detach().requires_grad_(True)}
        raise ValueError(
            f"{type(module).__name__} takes no tokens as its first input; attention methods read its blocks' tokens"
        )

    def keep_output(module: nn.Module, args: Any, output: Any) -> None:
        outputs.append(output[0] if isinstance(output, (tuple, list)) else output)

    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode(False))
        stack.enter_context(evaluation_mode(model))
        stack.enter_context(torch.no_grad())
        records = stack.enter_context(recorded_attention(blocks))
        starts = blocks if block_inputs else blocks[:1] if need_gradients else []
        for block in starts:
            stack.callback(block.module.register_forward_pre_hook(start_graph, with_kwargs=True).remove)
        if block_inputs:
            stack.enter_context(forward_hooks((block.module, keep_output) for block in blocks))
        stack.enter_context(explained_rank_errors(x))
        raw = model(x)
        outputs_selected = select_output(raw, call.explainer.output_selector)
        if need_gradients and isinstance(outputs_selected, torch.Tensor) and not outputs_selected.requires_grad:
            raise ValueError(
                "the model's output does not depend on its attention blocks' tokens; check output_selector"
            )
    for block, record in zip(blocks, records):
        if len(record) != 1:
            raise ValueError(
                f"attention {block.attention_name!r} ran {len(record)} times in one forward pass; attention methods read "
                "blocks that run once"
            )
    return outputs_selected, [record[0] for record in records], outputs


def _targets(call: MethodCall, outputs: Any) -> list[Callable]:
    batch = call.input_tensor.shape[0]
    targets = check_targets(call.targets, batch)
    return targets if targets is not None else top_class_targets(outputs, batch)


def _finish(call: MethodCall, patches: torch.Tensor, count: int) -> torch.Tensor:
    """(B, N - p) patch relevances of ``count`` tokens laid on their grid and finished as every map is."""
    size = tuple(call.input_tensor.shape[2:])
    _, grid = token_grid(count, size)
    return finish_maps([patches.reshape(patches.shape[0], *grid)], size, call.explainer.normalise)


def _chosen_blocks(call: MethodCall) -> list[AttentionBlock]:
    return attention_blocks(call.explainer.model, call.explainer.layers)


def attention_rollout(call: MethodCall) -> torch.Tensor:
    r"""Attention rollout (https://arxiv.org/abs/2005.00928): the class token's row of
    ``R = Â_L ... Â_1``, ``Â_l = rownorm(0.5 E_h A_l + 0.5 I)`` (see :func:`rollout`), over the
    stack up to the chosen block; class-agnostic, one forward."""
    blocks = stack_up_to(call.explainer.model, _chosen_blocks(call))
    with model_lock(call.explainer.model):
        _, attentions, _ = _forward(call, blocks, need_gradients=False)
    return _finish_rows(call, rollout(attentions, call.options["head_fusion"], call.options["discard_ratio"]))


def gradient_weighted_attention(call: MethodCall) -> torch.Tensor:
    r"""Gradient-weighted attention (https://arxiv.org/abs/2103.15679): the class token's row of
    ``R``, ``R = I`` then ``R += E_h[(∇A_l ⊙ A_l)^+] R`` block by block up to the chosen one, the
    gradients those of the target score; one forward and one backward."""
    blocks = stack_up_to(call.explainer.model, _chosen_blocks(call))
    with model_lock(call.explainer.model):
        outputs, attentions, _ = _forward(call, blocks, need_gradients=True)
        with torch.enable_grad():
            scores = _score(_targets(call, outputs), outputs, call.input_tensor.shape[0])
            gradients = torch.autograd.grad(scores.sum(), attentions)
    return _finish_rows(call, gradient_weighted([a.detach() for a in attentions], gradients))


def token_head(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The model's own head applied to a block's tokens (B, N, C), as LeGrad scores them: torchvision's
    ``VisionTransformer`` ``heads(encoder.ln(mean of tokens))`` (as torchcam does); timm ``forward_head(norm(tokens))``;
    Hugging Face ``classifier(layernorm(tokens)[:, 0])`` and CLIP ``visual_projection(post_layernorm(tokens[:, 0]))``;
    open_clip's vision tower ``pool(tokens) @ proj``. None for other models."""
    encoder, heads = getattr(model, "encoder", None), getattr(model, "heads", None)
    if isinstance(getattr(encoder, "ln", None), nn.Module) and isinstance(heads, nn.Module):
        return lambda tokens: heads(encoder.ln(tokens.mean(dim=1)))
    if callable(getattr(model, "forward_head", None)) and isinstance(getattr(model, "norm", None), nn.Module):
        return lambda tokens: model.forward_head(model.norm(tokens))
    vit = getattr(model, "vit", None)
    if isinstance(getattr(model, "classifier", None), nn.Module) and isinstance(
        getattr(vit, "layernorm", None), nn.Module
    ):
        return lambda tokens: model.classifier(vit.layernorm(tokens)[:, 0])
    vision = getattr(model, "vision_model", None)
    if isinstance(getattr(model, "visual_projection", None), nn.Module) and vision is not None:
        return lambda tokens: model.visual_projection(vision.post_layernorm(tokens[:, 0]))
    if callable(getattr(model, "_pool", None)) and hasattr(model, "proj") and hasattr(model, "transformer"):

        def open_clip_head(tokens: torch.Tensor) -> torch.Tensor:
            pooled, _ = model._pool(tokens)
            return pooled @ model.proj if model.proj is not None else pooled

        return open_clip_head
    return None


def legrad(call: MethodCall) -> torch.Tensor:
    r"""LeGrad (Bousselham et al. 2024, https://arxiv.org/abs/2404.03214): for each chosen block ``l``,
    ``s_l`` the target score of the model's head applied to the block's tokens (:func:`token_head`, or
    ``score_projection``), and the map ``mean_l E_h mean_queries (∂s_l / ∂A_l)^+`` over the patch keys.
    Each block starts from its input detached, so one backward of ``sum_l s_l`` gives every ``∂s_l/∂A_l``."""
    model = call.explainer.model
    blocks = _chosen_blocks(call)
    head = call.options["score_projection"] or token_head(model)
    if head is None:
        raise ValueError(
            f"LeGrad scores each block's tokens with the model's head, and {type(model).__name__}'s is not known; pass "
            "score_projection=(tokens (B, N, C) -> the model's output for them)"
        )
    batch = call.input_tensor.shape[0]
    with model_lock(model):
        outputs, attentions, block_outputs = _forward(call, blocks, need_gradients=True, block_inputs=True)
        targets = _targets(call, outputs)
        with torch.enable_grad():
            scores = sum(_score(targets, head(tokens), batch).sum() for tokens in block_outputs)
            gradients = torch.autograd.grad(scores, attentions)
    count = attentions[0].shape[-1]
    prefix, _ = token_grid(count, tuple(call.input_tensor.shape[2:]))
    relevance = torch.stack([torch.relu(g.float()).mean(dim=(1, 2))[:, prefix:] for g in gradients]).mean(dim=0)
    return _finish(call, relevance, count)


def _check_rollout(options: dict) -> None:
    if options["head_fusion"] not in HEAD_FUSIONS:
        raise ValueError(f"head_fusion must be one of {', '.join(HEAD_FUSIONS)}; got {options['head_fusion']!r}")
    ratio = options["discard_ratio"]
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
        raise ValueError(f"discard_ratio must be a number from 0 (keep all) to below 1; got {ratio!r}")


def _check_projection(options: dict) -> None:
    projection = options["score_projection"]
    if projection is not None and not callable(projection):
        raise TypeError(
            f"score_projection must be a function of a block's tokens (B, N, C); got {type(projection).__name__}"
        )


SPECS = (
    MethodSpec(
        name="attentionrollout",
        class_name="AttentionRollout",
        family="attention",
        needs_gradients=False,
        cost=1.0,
        run=attention_rollout,
        options={"head_fusion": "mean", "discard_ratio": 0.0},
        keyword_only=("head_fusion", "discard_ratio"),
        check=_check_rollout,
        summary="attention multiplied through the blocks, with the residual (class-agnostic)",
        paper="https://arxiv.org/abs/2005.00928",
        input_axes=(2,),
    ),
    MethodSpec(
        name="gradientweightedattention",
        class_name="GradientWeightedAttention",
        family="attention",
        needs_gradients=True,
        cost=1.0,
        run=gradient_weighted_attention,
        summary="attention weighted by its gradient, accumulated through the blocks (Chefer et al.)",
        paper="https://arxiv.org/abs/2103.15679",
        input_axes=(2,),
    ),
    MethodSpec(
        name="legrad",
        class_name="LeGrad",
        family="attention",
        needs_gradients=True,
        cost=1.0,
        run=legrad,
        options={"score_projection": None},
        keyword_only=("score_projection",),
        check=_check_projection,
        summary="positive gradients of each block's own score with respect to its attention",
        paper="https://arxiv.org/abs/2404.03214",
        input_axes=(2,),
    ),
)
