"""Where things live inside each supported encoder family, so surgery code need not know.

Stock transformers classes differ in naming (``encoder.layer`` vs ``transformer.layer``,
``hidden_act`` vs ``activation``); every structural edit (layer selection, activation swap,
pruning) goes through these helpers.
"""

from __future__ import annotations

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
