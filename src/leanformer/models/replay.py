"""Layer outputs kept from one measuring pass and replayed in the next, so that a measurement which only
changes layer ``l`` and later does not recompute layers ``0 .. l-1``.

A significance analysis removes one component at a time, layer by layer, and layer importance skips one
layer at a time: the layers before the change compute exactly what they computed in the previous pass over
the same sample. On a 12-layer teacher that is, on average, half of every pass.
"""

from __future__ import annotations

import contextlib

import torch

from leanformer.models.anatomy import layer_container


class _Replayed(torch.nn.Module):
    """Stands in for a layer before the replayed one: returns the kept output of that layer, batch by batch."""

    def __init__(self, replay: "PrefixReplay", last: bool):
        super().__init__()
        self.replay, self.last = replay, last

    def forward(self, *args, **kwargs):
        out = self.replay.outputs[self.replay.position]
        if self.last:
            self.replay.position += 1
        return out


class PrefixReplay:
    """The outputs of one layer on a fixed sample in a fixed batch order (the scorer's), kept from the last
    pass that computed them."""

    def __init__(self, model: torch.nn.Module):
        self.model = model
        #: index of the layer whose outputs are kept (None: none), and its output for each batch
        self.layer: int | None = None
        self.outputs: list = []
        self.position = 0

    def forget(self) -> None:
        """Drop the kept outputs (the model may have changed)."""
        self.layer, self.outputs = None, []

    @contextlib.contextmanager
    def starting_at(self, first_changed: int):
        """Run the passes inside with the kept layers before ``first_changed`` replayed, and keep the output of
        layer ``first_changed - 1`` for the next pass if it is not kept yet (the layers from the kept one to
        it run unchanged, so their output is the whole model's)."""
        if first_changed == 0:
            yield
            return
        container = layer_container(self.model)
        blocks = container.layer
        replayed = self.layer + 1 if self.layer is not None and self.layer < first_changed else 0
        kept, hook = [], None
        if replayed < first_changed:
            hook = blocks[first_changed - 1].register_forward_hook(lambda _m, _a, out: kept.append(out))
        if replayed:
            self.position = 0
            container.layer = torch.nn.ModuleList([_Replayed(self, i == replayed - 1) for i in range(replayed)]
                                                  + list(blocks[replayed:]))
        try:
            yield
        finally:
            container.layer = blocks
            if hook is not None:
                hook.remove()
        if hook is not None:  # only reached when the pass completed
            self.layer, self.outputs = first_changed - 1, kept
