"""Layer outputs kept from earlier measuring passes and replayed in later ones, so that a measurement which
only changes layer ``l`` and later does not recompute layers ``0 .. l-1``.

A significance analysis removes one component at a time, and layer importance skips one layer at a time: the
layers before the change compute exactly what they computed in an earlier pass over the same sample. The greedy
loop of ``approximate`` tries one more removal at a time: the layers before the tried one compute what they
computed for the removals kept so far. On a 12-layer teacher that is, on average, half of every pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Iterable, Sequence

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
    """Outputs of some layers on a fixed sample in a fixed batch order (the caller's), each with what it was
    computed with, so a later pass replays a layer's output only when every layer up to it computes the same.

    Memory: one kept layer holds the sample's hidden states (examples x tokens x hidden, in fp32)."""

    def __init__(self, model: torch.nn.Module):
        self.model = model
        #: layer index -> (the keys of layers 0 .. index when it ran, its output for each batch)
        self.kept: dict[int, tuple[tuple, list]] = {}
        self.outputs: list = []
        self.position = 0

    def forget(self) -> None:
        """Drop the kept outputs (the model may have changed)."""
        self.kept = {}

    @contextlib.contextmanager
    def passes(self, keys: Sequence[Hashable], keep: Iterable[int] = (), only: bool = False):
        """Run the passes inside with the layers up to the deepest kept one replayed whose keys match, layer
        by layer, this pass's ``keys`` (one per layer: what it computes with beyond its weights, e.g. its
        removed components); then keep the outputs this pass computed for the layers in ``keep`` (``only``:
        and drop the others)."""
        container = layer_container(self.model)
        blocks = container.layer
        replayed = max((k + 1 for k, (ran, _) in self.kept.items() if ran == tuple(keys[: k + 1])), default=0)
        keep = set(keep)
        new = {k: [] for k in sorted(keep) if replayed <= k < len(blocks)}
        hooks = [blocks[k].register_forward_hook(lambda _m, _a, out, got=got: got.append(out)) for k, got in new.items()]
        if replayed:
            self.outputs, self.position = self.kept[replayed - 1][1], 0
            container.layer = torch.nn.ModuleList([_Replayed(self, i == replayed - 1) for i in range(replayed)]
                                                  + list(blocks[replayed:]))
        try:
            yield
        finally:
            container.layer = blocks
            for hook in hooks:
                hook.remove()
        # only reached when the passes completed
        if only:
            self.kept = {k: v for k, v in self.kept.items() if k in keep}
        self.kept.update({k: (tuple(keys[: k + 1]), got) for k, got in new.items()})
