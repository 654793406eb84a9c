"""Where things live inside each supported encoder family, so surgery code need not know.

Stock transformers classes differ in naming (``encoder.layer`` vs ``transformer.layer``,
``hidden_act`` vs ``activation``); every structural edit (layer selection, activation swap,
pruning) goes through these helpers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.activations import ACT2FN

from leanformer.errors import LeanformerError


def base_model(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, model.base_model_prefix)


def layer_container(model: torch.nn.Module) -> torch.nn.Module:
    """The module whose ``.layer`` attribute is the ModuleList of transformer blocks."""
    base = base_model(model)
    for name in ("encoder", "transformer"):
        container = getattr(base, name, None)
        if container is not None and isinstance(getattr(container, "layer", None), torch.nn.ModuleList):
            return container
    raise LeanformerError(f"cannot find the transformer layers of {type(model).__name__}")


def layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    return layer_container(model).layer


def keep_layers(model: torch.nn.Module, keep: list[int]) -> torch.nn.Module:
    """Keep only the given transformer blocks (0-based, in order), in place; the config follows."""
    blocks = layers(model)
    if not keep or len(set(keep)) != len(keep) or any(not 0 <= i < len(blocks) for i in keep):
        raise LeanformerError(f"layers to keep must be distinct indices in 0..{len(blocks) - 1}, got {keep}")
    layer_container(model).layer = torch.nn.ModuleList(blocks[i] for i in sorted(keep))
    model.config.num_hidden_layers = len(keep)
    return model


#: config attribute naming the FFN activation, and the module attributes that hold it
ACTIVATION_CONFIG = {"distilbert": "activation"}
ACTIVATION_ATTRS = ("intermediate_act_fn", "activation")


def set_activation(model: torch.nn.Module, name: str) -> torch.nn.Module:
    """Swap the FFN activation of every block (e.g. GELU -> ReLU), in place; the config follows."""
    if name not in ACT2FN:
        raise LeanformerError(f"unknown activation '{name}'")
    swapped = 0
    for module in layers(model).modules():  # only the blocks: BERT's pooler keeps its tanh
        for attr in ACTIVATION_ATTRS:
            if isinstance(getattr(module, attr, None), torch.nn.Module):
                setattr(module, attr, ACT2FN[name])
                swapped += 1
    if swapped != model.config.num_hidden_layers:
        raise LeanformerError(f"expected one FFN activation per layer in {type(model).__name__}, found {swapped}")
    setattr(model.config, ACTIVATION_CONFIG.get(model.config.model_type, "hidden_act"), name)
    return model


@dataclass
class BlockParts:
    """The prunable pieces of one transformer block."""

    attention: torch.nn.Module  # holds the head bookkeeping (attention_head_size, head count)
    query: torch.nn.Linear
    key: torch.nn.Linear
    value: torch.nn.Linear
    output: torch.nn.Linear  # attention output projection; its input columns are per head
    ffn_in: torch.nn.Linear
    ffn_out: torch.nn.Linear

    @property
    def head_size(self) -> int:
        return self.attention.attention_head_size

    @property
    def num_heads(self) -> int:
        return self.query.out_features // self.head_size


#: (attention module path, q, k, v, o names, FFN in/out paths) per family
_BLOCK_LAYOUT = {
    "bert": ("attention.self", ("query", "key", "value"), "attention.output.dense", "intermediate.dense", "output.dense"),
    "distilbert": ("attention", ("q_lin", "k_lin", "v_lin"), "attention.out_lin", "ffn.lin1", "ffn.lin2"),
    "mpnet": ("attention.attn", ("q", "k", "v"), "attention.attn.o", "intermediate.dense", "output.dense"),
}
_BLOCK_LAYOUT.update({t: _BLOCK_LAYOUT["bert"] for t in ("roberta", "xlm-roberta", "electra")})
#: families whose attention heads share state across layers, so heads cannot be removed per layer
NO_HEAD_PRUNING = {"mpnet": "MPNet adds one relative-position bias, shared by all layers, with a column per head"}


def block_parts(model: torch.nn.Module) -> list[BlockParts]:
    layout = _BLOCK_LAYOUT.get(model.config.model_type)
    if layout is None:
        raise LeanformerError(f"structured pruning does not support '{model.config.model_type}'")
    attn_path, qkv, o_path, in_path, out_path = layout
    parts = []
    for block in layers(model):
        attention = block.get_submodule(attn_path)
        q, k, v = (getattr(attention, n) for n in qkv)
        parts.append(BlockParts(attention, q, k, v, block.get_submodule(o_path), block.get_submodule(in_path),
                                block.get_submodule(out_path)))
    return parts


#: families whose position ids start after the padding index
_OFFSET_POSITIONS = ("roberta", "xlm-roberta", "mpnet")


def max_sequence_length(config) -> int:
    """The longest input the model's position embeddings allow."""
    offset = config.pad_token_id + 1 if config.model_type in _OFFSET_POSITIONS else 0
    return config.max_position_embeddings - offset
