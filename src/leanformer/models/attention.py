"""Approximate attention for layers that tolerate it (AxFormer), through transformers' attention interface.

``sign_match``: for each query, the ``k`` keys whose vectors agree in sign with the query's in the most
dimensions, then exact softmax attention over those keys only. ``hard``: the ``k`` highest scores per
query. Both are written as masks over the exact scores, so the answers are exactly those of the
approximation and the graph exports; the multiply-adds a dedicated kernel would save are reported by
``attention_macs``, not realised here.
"""

from __future__ import annotations

import math
import types

import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask

from leanformer.errors import LeanformerError
from leanformer.models.anatomy import block_parts

IMPLEMENTATION = "leanformer_approximate"
METHODS = ("sign_match", "hard")
#: families whose attention goes through transformers' attention interface (MPNet's own is replaced per layer)
_SUPPORTED = ("bert", "roberta", "xlm-roberta", "electra", "distilbert")


def _top_k(similarity: torch.Tensor, k: int) -> torch.Tensor:
    """True for the ``k`` most similar keys of each query (all keys when there are fewer). The row is padded
    with ``k`` minus-infinities first, so a fixed ``k`` exports and runs at any sequence length."""
    pad = similarity.new_full((*similarity.shape[:-1], k), float("-inf"))
    kth = torch.topk(torch.cat([similarity, pad], dim=-1), k, dim=-1).values[..., -1:]
    return similarity >= kth


def _approximated(scores: torch.Tensor, query: torch.Tensor, key: torch.Tensor, attention_mask, spec: dict | None):
    """``scores`` (scaled, masked) with every key outside each query's chosen ``k`` set to the minimum."""
    if spec is None:
        return scores
    if spec["method"] == "sign_match":
        similarity = torch.matmul(torch.sign(query), torch.sign(key).transpose(2, 3))
        # counts of matching signs tie often: the earlier key wins, by less than the step of 2 between counts
        positions = torch.arange(key.shape[-2], dtype=similarity.dtype, device=similarity.device)
        similarity = similarity - positions / key.shape[-2]
        if attention_mask is not None:  # padding is never among the chosen keys
            similarity = similarity + attention_mask
    else:
        similarity = scores
    return scores.masked_fill(~_top_k(similarity, spec["k"]), torch.finfo(scores.dtype).min)


def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Eager attention, approximated where ``module.approximate_attention`` says so."""
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    scores = _approximated(scores, query, key, attention_mask, getattr(module, "approximate_attention", None))
    weights = torch.nn.functional.softmax(scores, dim=-1)
    weights = torch.nn.functional.dropout(weights, p=dropout, training=module.training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


def _mpnet_attention(self, hidden_states, attention_mask=None, position_bias=None, output_attentions=False, **kwargs):
    """MPNet's self-attention (which does not go through the attention interface), approximated: the relative
    position bias is part of the scores that hard attention ranks."""
    shape = (*hidden_states.shape[:-1], -1, self.attention_head_size)
    query, key, value = (proj(hidden_states).view(shape).transpose(1, 2) for proj in (self.q, self.k, self.v))
    scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(self.attention_head_size)
    if position_bias is not None:
        scores = scores + position_bias
    if attention_mask is not None:
        scores = scores + attention_mask
    scores = _approximated(scores, query, key, attention_mask, self.approximate_attention)
    probs = self.dropout(torch.nn.functional.softmax(scores, dim=-1))
    output = self.o(torch.matmul(probs, value).transpose(1, 2).flatten(2))
    return (output, probs) if output_attentions else (output,)


AttentionInterface.register(IMPLEMENTATION, attention)
AttentionMaskInterface.register(IMPLEMENTATION, eager_mask)


def apply_approximate_attention(model: torch.nn.Module, layers: dict[str, dict]) -> torch.nn.Module:
    """Approximate the attention of the listed layers (``{"3": {"method": "sign_match", "k": 16}}``), in place."""
    family = model.config.model_type
    if family not in (*_SUPPORTED, "mpnet"):
        raise LeanformerError(f"approximate attention supports {', '.join(_SUPPORTED)} and mpnet, not '{family}'")
    parts = block_parts(model)
    for layer, spec in layers.items():
        i = int(layer)
        if not 0 <= i < len(parts) or parts[i].attention is None:
            raise LeanformerError(f"layer {layer} has no attention to approximate")
        if spec.get("method") not in METHODS or not isinstance(spec.get("k"), int) or spec["k"] < 1:
            raise LeanformerError(f"layer {layer}: approximate attention needs a method ({', '.join(METHODS)}) and "
                                  f"k >= 1, got {spec}")
        parts[i].attention.approximate_attention = dict(spec)
        if family == "mpnet":
            parts[i].attention.forward = types.MethodType(_mpnet_attention, parts[i].attention)
    if family != "mpnet":
        model.set_attn_implementation(IMPLEMENTATION)
    return model


def attention_macs(length: int, head_size: int, heads: int, k: int | None = None) -> int:
    """Multiply-adds per query for scores and context: exact over ``length`` keys, or over ``k`` chosen ones."""
    keys = length if k is None else min(k, length)
    return 2 * heads * keys * head_size
