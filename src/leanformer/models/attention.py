"""Approximate attention for layers that tolerate it (AxFormer), through transformers' attention interface.

``sign_match``: for each query, the ``k`` keys whose vectors agree in sign with the query's in the most
dimensions, then exact softmax attention over those keys only. ``hard``: the ``k`` highest scores per
query. Both are written as masks over the exact scores, so the answers are exactly those of the
approximation and the graph exports; the multiply-adds a dedicated kernel would save are reported by
``attention_macs``, not realised here.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask

from leanformer.errors import LeanformerError
from leanformer.models.anatomy import block_parts

IMPLEMENTATION = "leanformer_approximate"
METHODS = ("sign_match", "hard")
#: families whose attention goes through transformers' attention interface
_SUPPORTED = ("bert", "roberta", "xlm-roberta", "electra", "distilbert")


def _top_k(similarity: torch.Tensor, k: int) -> torch.Tensor:
    """True for the ``k`` most similar keys of each query (all keys when there are fewer). The row is padded
    with ``k`` minus-infinities first, so a fixed ``k`` exports and runs at any sequence length."""
    pad = similarity.new_full((*similarity.shape[:-1], k), float("-inf"))
    kth = torch.topk(torch.cat([similarity, pad], dim=-1), k, dim=-1).values[..., -1:]
    return similarity >= kth


def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Eager attention, approximated where ``module.approximate_attention`` says so."""
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    spec = getattr(module, "approximate_attention", None)
    if spec is not None:
        if spec["method"] == "sign_match":
            similarity = torch.matmul(torch.sign(query), torch.sign(key).transpose(2, 3))
            # counts of matching signs tie often: the earlier key wins, by less than the step of 2 between counts
            positions = torch.arange(key.shape[-2], dtype=similarity.dtype, device=similarity.device)
            similarity = similarity - positions / key.shape[-2]
            if attention_mask is not None:  # padding is never among the chosen keys
                similarity = similarity + attention_mask
        else:
            similarity = scores
        scores = scores.masked_fill(~_top_k(similarity, spec["k"]), torch.finfo(scores.dtype).min)
    weights = torch.nn.functional.softmax(scores, dim=-1)
    weights = torch.nn.functional.dropout(weights, p=dropout, training=module.training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


AttentionInterface.register(IMPLEMENTATION, attention)
AttentionMaskInterface.register(IMPLEMENTATION, eager_mask)


def apply_approximate_attention(model: torch.nn.Module, layers: dict[str, dict]) -> torch.nn.Module:
    """Approximate the attention of the listed layers (``{"3": {"method": "sign_match", "k": 16}}``), in place."""
    if model.config.model_type not in _SUPPORTED:
        raise LeanformerError(f"approximate attention supports {', '.join(_SUPPORTED)}, not "
                              f"'{model.config.model_type}'")
    parts = block_parts(model)
    for layer, spec in layers.items():
        i = int(layer)
        if not 0 <= i < len(parts) or parts[i].attention is None:
            raise LeanformerError(f"layer {layer} has no attention to approximate")
        if spec.get("method") not in METHODS or not isinstance(spec.get("k"), int) or spec["k"] < 1:
            raise LeanformerError(f"layer {layer}: approximate attention needs a method ({', '.join(METHODS)}) and "
                                  f"k >= 1, got {spec}")
        parts[i].attention.approximate_attention = dict(spec)
    model.set_attn_implementation(IMPLEMENTATION)
    return model


def attention_macs(length: int, head_size: int, heads: int, k: int | None = None) -> int:
    """Multiply-adds per query for scores and context: exact over ``length`` keys, or over ``k`` chosen ones."""
    keys = length if k is None else min(k, length)
    return 2 * heads * keys * head_size
