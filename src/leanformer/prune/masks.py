"""Multiplicative masks on every head and FFN neuron, without touching the weights.

A head mask scales that head's slice of the context vector entering the attention output
projection; a neuron mask scales that neuron's activation entering the FFN output projection.
Zeroing a mask is exactly removing the head or neuron, which is what the exactness tests check
against physical pruning, and the gradient of the loss with respect to a mask is its
first-order importance.
"""

from __future__ import annotations

import torch

from leanformer.models.anatomy import block_parts


class StructureMasks:
    """Context manager installing the masks (all ones unless given) as forward pre-hooks."""

    def __init__(self, model: torch.nn.Module, heads: list[torch.Tensor] | None = None,
                 neurons: list[torch.Tensor] | None = None, requires_grad: bool = False):
        self.parts = block_parts(model)
        self.heads = heads or [torch.ones(p.num_heads) for p in self.parts]
        self.neurons = neurons or [torch.ones(p.num_neurons) for p in self.parts]
        for t in (*self.heads, *self.neurons):
            t.requires_grad_(requires_grad)
        self._hooks = []

    def __enter__(self) -> "StructureMasks":
        for part, head_mask, neuron_mask in zip(self.parts, self.heads, self.neurons):
            d = part.head_size if part.attention is not None else 0

            def mask_heads(module, args, head_mask=head_mask, d=d):
                x = args[0]
                shape = x.shape
                return ((x.view(*shape[:-1], -1, d) * head_mask.to(x)[:, None]).view(shape), *args[1:])

            def mask_neurons(module, args, neuron_mask=neuron_mask):
                return (args[0] * neuron_mask.to(args[0]), *args[1:])

            if part.output is not None:  # a removed sublayer has nothing left to mask
                self._hooks.append(part.output.register_forward_pre_hook(mask_heads))
            if part.ffn_out is not None:
                self._hooks.append(part.ffn_out.register_forward_pre_hook(mask_neurons))
        return self

    def __exit__(self, *exc) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
