"""The parts of a model that significance analysis weighs: whole attention and FFN sublayers, heads, and
groups of FFN neurons, with what each costs, and the masks or structure that remove a set of them."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from leanformer.models.anatomy import BlockParts, block_parts
from leanformer.prune.masks import StructureMasks

KINDS = ("attention", "ffn", "head", "group")


@dataclass(frozen=True, order=True)
class Component:
    layer: int
    kind: str
    #: the head, or the neuron group, within the layer (0 for whole sublayers)
    index: int = 0

    @property
    def name(self) -> str:
        return f"layer {self.layer} {self.kind}" + (f" {self.index}" if self.kind in ("head", "group") else "")


def components(model, group_size: int) -> list[Component]:
    """Every component of the model as it is now, layer by layer."""
    found = []
    for i, p in enumerate(block_parts(model)):
        if p.num_heads:
            found += [Component(i, "attention")] + [Component(i, "head", h) for h in range(p.num_heads)]
        if p.num_neurons:
            found += [Component(i, "ffn")] + [Component(i, "group", g) for g in range(-(-p.num_neurons // group_size))]
    return found


def by_layer(removed: set[Component], layers: int) -> list[frozenset[Component]]:
    """The removed components of each layer: what each layer computes with beyond its weights (replay keys)."""
    return [frozenset(c for c in removed if c.layer == k) for k in range(layers)]


def _units(part: BlockParts, c: Component, group_size: int) -> tuple[list[int], list[int]]:
    """(heads, neurons) of the layer that ``c`` covers."""
    if c.kind == "attention":
        return list(range(part.num_heads)), []
    if c.kind == "head":
        return [c.index], []
    if c.kind == "ffn":
        return [], list(range(part.num_neurons))
    return [], list(range(c.index * group_size, min((c.index + 1) * group_size, part.num_neurons)))


def cost(model, c: Component, group_size: int, sequence_length: int = 128) -> dict:
    """Parameters and multiply-adds per token the component accounts for (attention scores included)."""
    part = block_parts(model)[c.layer]
    heads, neurons = _units(part, c, group_size)
    width = (part.query or part.ffn_in).in_features
    d = part.head_size if part.attention is not None else 0
    params = len(heads) * d * (4 * width + 3) + len(neurons) * (2 * width + 1)
    macs = len(heads) * d * (4 * width + 2 * sequence_length) + len(neurons) * 2 * width
    return {"parameters": params, "macs_per_token": macs}


def removal(model, removed: set[Component], group_size: int) -> tuple[list[list[int]], list[list[int]]]:
    """The heads and neurons each layer keeps without ``removed``: what ``apply_structure`` takes."""
    keep_heads, keep_neurons = [], []
    for i, part in enumerate(block_parts(model)):
        heads, neurons = set(range(part.num_heads)), set(range(part.num_neurons))
        for c in (c for c in removed if c.layer == i):
            gone_heads, gone_neurons = _units(part, c, group_size)
            heads -= set(gone_heads)
            neurons -= set(gone_neurons)
        keep_heads.append(sorted(heads))
        keep_neurons.append(sorted(neurons))
    return keep_heads, keep_neurons


def masks(model, removed: set[Component], group_size: int) -> StructureMasks:
    """Masks that silence ``removed`` without touching the weights (the analysis's way of removing)."""
    keep_heads, keep_neurons = removal(model, removed, group_size)
    parts = block_parts(model)

    def mask(n: int, keep: list[int]) -> torch.Tensor:
        return torch.zeros(n).index_fill_(0, torch.tensor(keep, dtype=torch.long), 1.0)

    return StructureMasks(model, [mask(p.num_heads, k) for p, k in zip(parts, keep_heads)],
                          [mask(p.num_neurons, k) for p, k in zip(parts, keep_neurons)])
