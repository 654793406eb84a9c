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
    """The prunable pieces of one transformer block; None where a sublayer was removed (all heads or all neurons)."""

    attention: torch.nn.Module | None  # holds the head bookkeeping (attention_head_size, head count)
    query: torch.nn.Linear | None
    key: torch.nn.Linear | None
    value: torch.nn.Linear | None
    output: torch.nn.Linear | None  # attention output projection; its input columns are per head
    ffn_in: torch.nn.Linear | None
    ffn_out: torch.nn.Linear | None

    @property
    def head_size(self) -> int:
        return self.attention.attention_head_size

    @property
    def num_heads(self) -> int:
        return self.query.out_features // self.head_size if self.query is not None else 0

    @property
    def num_neurons(self) -> int:
        return self.ffn_in.out_features if self.ffn_in is not None else 0


class RemovedSublayer(torch.nn.Module):
    """What is left of a post-LayerNorm sublayer ``norm(x + f(x))`` once every head or FFN neuron is gone:
    ``norm(x + bias)`` (``bias`` alone where the block applies the norm itself). No matrix product remains.

    ``call``: how the block calls the module it replaces: ``attention`` (hidden states first, returns a tuple),
    ``output`` (``(intermediate, input)``, as BERT's FFN output) or ``plain`` (hidden states, returns a tensor).
    """

    def __init__(self, bias: torch.Tensor, norm: torch.nn.Module | None, call: str):
        super().__init__()
        self.bias = torch.nn.Parameter(bias.detach().clone())
        self.norm, self.call = norm, call

    def forward(self, hidden_states, *args, **kwargs):
        x = args[0] if self.call == "output" else hidden_states
        out = self.norm(x + self.bias) if self.norm is not None else self.bias.expand_as(x)
        return (out, None) if self.call == "attention" else out


#: per family, how a removed sublayer replaces stock modules: (path to replace, call, residual norm path or None,
#: output projection path whose bias remains) for attention, then for the FFN; extra FFN paths become Identity
_SUBLAYERS = {
    "bert": (("attention", "attention", "attention.output.LayerNorm", "attention.output.dense"),
             ("output", "output", "output.LayerNorm", "output.dense", "intermediate")),
    "distilbert": (("attention", "attention", None, "attention.out_lin"), ("ffn", "plain", None, "ffn.lin2", None)),
    "mpnet": (("attention", "attention", "attention.LayerNorm", "attention.attn.o"),
              ("output", "output", "output.LayerNorm", "output.dense", "intermediate")),
}
_SUBLAYERS.update({t: _SUBLAYERS["bert"] for t in ("roberta", "xlm-roberta", "electra")})


def remove_sublayer(block: torch.nn.Module, model_type: str, which: str) -> None:
    """Replace a block's attention (``which="attention"``) or FFN by its ``RemovedSublayer``, in place."""
    attention, ffn = _SUBLAYERS[model_type]
    path, call, norm_path, bias_path, *extra = attention if which == "attention" else ffn
    norm = block.get_submodule(norm_path) if norm_path else None
    removed = RemovedSublayer(block.get_submodule(bias_path).bias, norm, call)
    owner, _, name = path.rpartition(".")
    setattr(block.get_submodule(owner) if owner else block, name, removed)
    for path in filter(None, extra):
        setattr(block, path, torch.nn.Identity())


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
    attention_path, ffn_path = _SUBLAYERS[model.config.model_type][0][0], _SUBLAYERS[model.config.model_type][1][0]
    parts = []
    for block in layers(model):
        pieces = [None] * 7
        if not isinstance(block.get_submodule(attention_path), RemovedSublayer):
            attention = block.get_submodule(attn_path)
            pieces[:5] = [attention, *(getattr(attention, n) for n in qkv), block.get_submodule(o_path)]
        if not isinstance(block.get_submodule(ffn_path), RemovedSublayer):
            pieces[5:] = [block.get_submodule(in_path), block.get_submodule(out_path)]
        parts.append(BlockParts(*pieces))
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
        if any(isinstance(m, RemovedSublayer) for m in block.modules()):
            raise LeanformerError("width pruning of a model with removed sublayers is not supported; prune the "
                                  "width first")
        norms += [m for m in block.modules() if isinstance(m, torch.nn.LayerNorm)]
        writers += [part.output, part.ffn_out]
        readers += [part.query, part.key, part.value, part.ffn_in]
    return ResidualParts(tables, norms, writers, readers + [head_input(model)])


def hidden_width(model: torch.nn.Module) -> int:
    """The residual stream's width as the model is now (width pruning leaves the config's ``hidden_size``)."""
    if model.config.model_type in _BLOCK_LAYOUT:
        return head_input(model).in_features
    return getattr(model.config, "hidden_size", None) or model.config.dim


#: families whose position ids start after the padding index
_OFFSET_POSITIONS = ("roberta", "xlm-roberta", "mpnet")


def max_sequence_length(config) -> int:
    """The longest input the model's position embeddings allow."""
    offset = config.pad_token_id + 1 if config.model_type in _OFFSET_POSITIONS else 0
    return config.max_position_embeddings - offset
