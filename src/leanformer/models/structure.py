"""Physically pruned models: slicing heads and FFN neurons, and rebuilding the shapes on load.

Transformers v5 has no ``prune_heads``, so the kept structure is recorded in the manifest
(``structure``: kept head indices per layer, kept FFN neuron indices per layer) and loading
rebuilds a stock model, slices it to that structure, then loads the weights. The head size stays
as it was, so heads x head size may differ from the hidden size.
"""

from __future__ import annotations

import torch

from leanformer.errors import LeanformerError
from leanformer.models.anatomy import NO_HEAD_PRUNING, block_parts, layers


def _slice_linear(linear: torch.nn.Linear, index: torch.Tensor, dim: int) -> torch.nn.Linear:
    """A new Linear keeping ``index`` along output rows (dim 0) or input columns (dim 1)."""
    weight = linear.weight.detach().index_select(dim, index).clone()
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


def apply_structure(model: torch.nn.Module, heads: list[list[int]] | None, neurons: list[list[int]] | None) -> torch.nn.Module:
    """Keep only the listed heads and FFN neurons of each layer, in place (indices into the current shapes)."""
    parts = block_parts(model)
    for name, keep in (("heads", heads), ("neurons", neurons)):
        if keep is not None and len(keep) != len(parts):
            raise LeanformerError(f"{name} to keep must list one entry per layer ({len(parts)}), got {len(keep)}")
    if heads is not None and model.config.model_type in NO_HEAD_PRUNING:
        raise LeanformerError(f"cannot prune attention heads of '{model.config.model_type}': "
                              f"{NO_HEAD_PRUNING[model.config.model_type]}; prune FFN neurons only")
    for i, (block, part) in enumerate(zip(layers(model), parts)):
        if heads is not None:
            kept = sorted(heads[i])
            if not kept or len(set(kept)) != len(kept) or not all(0 <= h < part.num_heads for h in kept):
                raise LeanformerError(f"layer {i}: heads to keep must be distinct indices in 0..{part.num_heads - 1}")
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
        if neurons is not None:
            kept = sorted(neurons[i])
            if not kept or len(set(kept)) != len(kept) or not all(0 <= n < part.ffn_in.out_features for n in kept):
                raise LeanformerError(f"layer {i}: FFN neurons to keep must be distinct indices in "
                                      f"0..{part.ffn_in.out_features - 1}")
            index = torch.tensor(kept)
            _replace(block, part.ffn_in, _slice_linear(part.ffn_in, index, 0))
            _replace(block, part.ffn_out, _slice_linear(part.ffn_out, index, 1))
    return model


def compose(previous: list[list[int]] | None, keep: list[list[int]] | None) -> list[list[int]] | None:
    """Indices into the original shapes after keeping ``keep`` (indices into the current ones)."""
    if keep is None:
        return previous
    if previous is None:
        return [sorted(k) for k in keep]
    return [[prev[i] for i in sorted(k)] for prev, k in zip(previous, keep)]


def current_structure(model: torch.nn.Module) -> dict:
    """Heads and FFN widths per layer as they are now (for reports)."""
    parts = block_parts(model)
    return {"heads_per_layer": [p.num_heads for p in parts], "ffn_per_layer": [p.ffn_in.out_features for p in parts],
            "head_size": parts[0].head_size}
