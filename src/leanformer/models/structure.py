"""Physically pruned models: slicing heads, FFN neurons and hidden channels, and rebuilding the shapes on load.

Transformers v5 has no ``prune_heads``, so the kept structure is recorded in the manifest
(``structure``: kept head indices per layer, kept FFN neuron indices per layer, kept hidden
channels) and loading rebuilds a stock model, slices it to that structure, then loads the weights.
The head size stays as it was, so heads x head size may differ from the hidden size, and the
config keeps its original sizes: the structure is the truth about the shapes.

MPNet computes one relative-position bias (a column per head) for all layers; a layer with pruned
heads reads only its own heads' columns through a pre-hook, so heads are pruned per layer there too.
"""

from __future__ import annotations

import torch

from leanformer.errors import LeanformerError
from leanformer.models.attention import apply_approximate_attention
from leanformer.models.anatomy import (SHARED_POSITION_BIAS, block_parts, hidden_width, layers, remove_sublayer,
                                      residual_parts)


def _slice_linear(linear: torch.nn.Linear, index: torch.Tensor, dim: int) -> torch.nn.Linear:
    """A new Linear keeping ``index`` along output rows (dim 0) or input columns (dim 1)."""
    weight = linear.weight.detach().index_select(dim, index.to(linear.weight.device)).clone()
    bias = linear.bias
    if bias is not None and dim == 0:
        bias = bias.detach()[index].clone()
    out = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None,
                          device=weight.device, dtype=weight.dtype)
    out.weight.data.copy_(weight)
    if bias is not None:
        out.bias.data.copy_(bias)
    return out


def _replace(parent: torch.nn.Module, old: torch.nn.Module, new: torch.nn.Module) -> None:
    """Put ``new`` where ``old`` sits inside ``parent``."""
    for name, child in parent.named_modules():
        if child is old:
            owner = parent.get_submodule(name.rsplit(".", 1)[0]) if "." in name else parent
            setattr(owner, name.rsplit(".", 1)[-1], new)
            return
    raise LookupError("module not found")


def _slice_norm(norm: torch.nn.LayerNorm, index: torch.Tensor) -> torch.nn.LayerNorm:
    out = torch.nn.LayerNorm(len(index), eps=norm.eps, elementwise_affine=norm.weight is not None,
                             bias=norm.bias is not None, device=norm.weight.device, dtype=norm.weight.dtype)
    with torch.no_grad():
        if norm.weight is not None:
            out.weight.copy_(norm.weight[index])
        if norm.bias is not None:
            out.bias.copy_(norm.bias[index])
    return out


def _slice_table(table: torch.nn.Embedding, index: torch.Tensor) -> torch.nn.Embedding:
    out = torch.nn.Embedding(table.num_embeddings, len(index), padding_idx=table.padding_idx,
                             device=table.weight.device, dtype=table.weight.dtype)
    with torch.no_grad():
        out.weight.copy_(table.weight[:, index])
    return out


def _check_indices(keep: list[int], total: int, what: str, may_be_empty: bool = False) -> list[int]:
    kept = sorted(keep)
    if (not kept and not may_be_empty) or len(set(kept)) != len(kept) or not all(0 <= k < total for k in kept):
        raise LeanformerError(f"{what} to keep must be distinct indices in 0..{total - 1}")
    return kept


def _position_bias_heads(module, args, kwargs):
    """Pre-hook of an MPNet attention: keep the shared bias's columns of this layer's remaining heads."""
    bias = args[2] if len(args) > 2 else kwargs.get("position_bias")
    if bias is None:
        return None
    bias = bias.index_select(1, module.bias_heads)
    if len(args) > 2:
        return (*args[:2], bias, *args[3:]), kwargs
    return args, {**kwargs, "position_bias": bias}


def _prune_heads(block: torch.nn.Module, part, kept: list[int], shared_bias: bool) -> None:
    d = part.head_size
    rows = torch.tensor([h * d + j for h in kept for j in range(d)])
    for lin in (part.query, part.key, part.value):
        _replace(block, lin, _slice_linear(lin, rows, 0))
    _replace(block, part.output, _slice_linear(part.output, rows, 1))
    for attr in ("num_attention_heads", "n_heads"):
        if hasattr(part.attention, attr):
            setattr(part.attention, attr, len(kept))
    if hasattr(part.attention, "all_head_size"):
        part.attention.all_head_size = len(kept) * d
    if shared_bias:
        index = torch.tensor(kept)
        if hasattr(part.attention, "bias_heads"):  # pruned before: indices into the table's original columns
            part.attention.bias_heads = part.attention.bias_heads[index]
        else:
            part.attention.register_buffer("bias_heads", index, persistent=False)
            part.attention.register_forward_pre_hook(_position_bias_heads, with_kwargs=True)


def keep_hidden(model: torch.nn.Module, kept: list[int]) -> torch.nn.Module:
    """Keep only the listed hidden (residual-stream) channels everywhere they are read or written, in place."""
    parts = residual_parts(model)
    index = torch.tensor(_check_indices(kept, parts.width, "hidden channels"))
    for table in parts.tables:
        _replace(model, table, _slice_table(table, index))
    for norm in parts.norms:
        _replace(model, norm, _slice_norm(norm, index))
    for lin in parts.writers:
        _replace(model, lin, _slice_linear(lin, index, 0))
    for lin in parts.readers:
        _replace(model, lin, _slice_linear(lin, index, 1))
    return model


def apply_structure(model: torch.nn.Module, heads: list[list[int]] | None, neurons: list[list[int]] | None,
                    hidden: list[int] | None = None, attention: dict[str, dict] | None = None) -> torch.nn.Module:
    """Keep only the listed heads and FFN neurons of each layer and the listed hidden channels, in place
    (indices into the current shapes); approximate the attention of the layers in ``attention``."""
    parts = block_parts(model)
    for name, keep in (("heads", heads), ("neurons", neurons)):
        if keep is not None and len(keep) != len(parts):
            raise LeanformerError(f"{name} to keep must list one entry per layer ({len(parts)}), got {len(keep)}")
    shared_bias = model.config.model_type in SHARED_POSITION_BIAS
    for i, (block, part) in enumerate(zip(layers(model), parts)):
        # an empty list removes the sublayer: no heads (or no neurons) left to compute
        if heads is not None and part.num_heads:
            kept = _check_indices(heads[i], part.num_heads, f"layer {i}: heads", may_be_empty=True)
            if kept:
                _prune_heads(block, part, kept, shared_bias)
            else:
                remove_sublayer(block, model.config.model_type, "attention")
        elif heads is not None and heads[i]:
            raise LeanformerError(f"layer {i} has no attention left to keep heads {heads[i]} of")
        if neurons is not None and part.num_neurons:
            kept = _check_indices(neurons[i], part.num_neurons, f"layer {i}: FFN neurons", may_be_empty=True)
            if kept:
                index = torch.tensor(kept)
                _replace(block, part.ffn_in, _slice_linear(part.ffn_in, index, 0))
                _replace(block, part.ffn_out, _slice_linear(part.ffn_out, index, 1))
            else:
                remove_sublayer(block, model.config.model_type, "ffn")
        elif neurons is not None and neurons[i]:
            raise LeanformerError(f"layer {i} has no FFN left to keep neurons {neurons[i]} of")
    if hidden is not None:
        keep_hidden(model, hidden)
    if attention:
        apply_approximate_attention(model, attention)
    return model


def compose(previous: list | None, keep: list | None) -> list | None:
    """Indices into the original shapes after keeping ``keep`` (indices into the current ones).

    Per-layer lists (heads, neurons) compose layer by layer; a flat list (hidden channels) as a whole.
    """
    if keep is None:
        return previous
    if keep and not isinstance(keep[0], list):
        return sorted(keep) if previous is None else [previous[i] for i in sorted(keep)]
    if previous is None:
        return [sorted(k) for k in keep]
    return [[prev[i] for i in sorted(k)] for prev, k in zip(previous, keep)]


def current_structure(model: torch.nn.Module) -> dict:
    """Heads and FFN widths per layer as they are now (for reports)."""
    parts = block_parts(model)
    return {"heads_per_layer": [p.num_heads for p in parts], "ffn_per_layer": [p.num_neurons for p in parts],
            "head_size": next((p.head_size for p in parts if p.attention is not None), None),
            "hidden": hidden_width(model), "layers": len(parts)}
