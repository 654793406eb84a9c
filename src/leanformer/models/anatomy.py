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
#: families whose blocks share one relative-position bias table with a column per head: each pruned layer
#: reads its own heads' columns (see ``models.structure``)
SHARED_POSITION_BIAS = ("mpnet",)


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


@dataclass
class ResidualParts:
    """Everything that reads or writes the residual stream (the hidden dimension), for width pruning."""

    tables: list[torch.nn.Embedding]  # embedding tables whose columns are hidden channels
    norms: list[torch.nn.LayerNorm]  # LayerNorms over the hidden channels
    writers: list[torch.nn.Linear]  # output rows are hidden channels (attention output, FFN output)
    readers: list[torch.nn.Linear]  # input columns are hidden channels (Q, K, V, FFN input, the task head)

    @property
    def width(self) -> int:
        return self.readers[0].in_features


#: where the task head reads the encoder output, when the base model has no pooler, by preference
_HEAD_INPUTS = ("classifier.dense", "pre_classifier", "sequence_summary.summary", "classifier")


def head_input(model: torch.nn.Module) -> torch.nn.Linear:
    """The first Linear of the task head, the only head layer that reads hidden channels."""
    pooler = getattr(base_model(model), "pooler", None)
    if pooler is not None:
        return pooler.dense
    for path in _HEAD_INPUTS:
        try:
            module = model.get_submodule(path)
        except AttributeError:
            continue
        if isinstance(module, torch.nn.Linear):
            return module
    raise LeanformerError(f"cannot find where the task head of {type(model).__name__} reads the encoder output")


def residual_parts(model: torch.nn.Module) -> ResidualParts:
    embeddings = base_model(model).embeddings
    project = getattr(base_model(model), "embeddings_project", None)  # ELECTRA: narrow embeddings, then a Linear
    tables, norms, writers = [], [], [project] if project is not None else []
    if project is None:
        tables = [m for m in embeddings.modules() if isinstance(m, torch.nn.Embedding)]
        norms = [m for m in embeddings.modules() if isinstance(m, torch.nn.LayerNorm)]
    readers = []
    for block, part in zip(layers(model), block_parts(model)):
        norms += [m for m in block.modules() if isinstance(m, torch.nn.LayerNorm)]
        writers += [part.output, part.ffn_out]
        readers += [part.query, part.key, part.value, part.ffn_in]
    return ResidualParts(tables, norms, writers, readers + [head_input(model)])


def hidden_width(model: torch.nn.Module) -> int:
    """The residual stream's width as the model is now (width pruning leaves the config's ``hidden_size``)."""
    if model.config.model_type in _BLOCK_LAYOUT:
        return block_parts(model)[0].ffn_in.in_features
    return getattr(model.config, "hidden_size", None) or model.config.dim


#: families whose position ids start after the padding index
_OFFSET_POSITIONS = ("roberta", "xlm-roberta", "mpnet")


def max_sequence_length(config) -> int:
    """The longest input the model's position embeddings allow."""
    offset = config.pad_token_id + 1 if config.model_type in _OFFSET_POSITIONS else 0
    return config.max_position_embeddings - offset
