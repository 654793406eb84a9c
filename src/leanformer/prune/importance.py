"""How much each head and FFN neuron matters, per layer.

``gradient``: accumulated |dL/dmask| over batches of training examples (Michel et al., 2019;
FastFormers). A neuron's mask sits between the activation and the output projection, so its
score a_i * (dL/dy . W_out[:, i]) weighs both the intermediate and the output projection.
``magnitude``: weight norms, the usual baseline. Scores are normalised per layer (L2), so
layers compare on the same scale. Hidden channels and whole layers have scores of their own
(below). Compute them all on training data, never on the split you report.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F

from leanformer.models.anatomy import block_parts, layer_container, residual_parts
from leanformer.models.replay import PrefixReplay
from leanformer.prune.masks import StructureMasks
from leanformer.utils.device import autocast, device_of, to_device
from leanformer.utils.progress import ProgressBar


def _normalise(scores: list[torch.Tensor]) -> list[torch.Tensor]:
    return [s / s.norm().clamp_min(1e-12) for s in scores]


def gradient_importance(model: torch.nn.Module, batches: Iterable[tuple[dict, torch.Tensor]], total: int,
                        bf16: bool = False, show_progress: bool = True) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per-layer head and neuron scores from |dL/dmask| summed over ``batches`` of (inputs, labels)."""
    model.eval()  # no dropout: scores measure the model as it will run
    masks = StructureMasks(model, requires_grad=True)
    head_scores = [torch.zeros_like(m) for m in masks.heads]
    neuron_scores = [torch.zeros_like(m) for m in masks.neurons]
    device = device_of(model)
    with masks, ProgressBar(total, "importance", enabled=show_progress) as bar:
        for inputs, labels in batches:
            with autocast(bf16, device):
                logits = model(**to_device(inputs, device)).logits
            loss = F.cross_entropy(logits.float(), labels.to(device))
            # gradients w.r.t. the masks only, fresh for every batch
            grads = torch.autograd.grad(loss, [*masks.heads, *masks.neurons])
            n = len(masks.heads)
            for acc, g in zip(head_scores + neuron_scores, grads[:n] + grads[n:]):
                acc += g.detach().abs().float().cpu()
            bar.advance(len(labels))
    return _normalise(head_scores), _normalise(neuron_scores)


def magnitude_importance(model: torch.nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per-layer head scores (norm of a head's Q, K, V rows and output columns) and neuron scores
    (norm of its intermediate row times norm of its output column)."""
    heads, neurons = [], []
    with torch.no_grad():
        for p in block_parts(model):
            d, h = p.head_size, p.num_heads
            rows = sum(lin.weight.view(h, d, -1).pow(2).sum((1, 2)) for lin in (p.query, p.key, p.value))
            cols = p.output.weight.view(p.output.out_features, h, d).pow(2).sum((0, 2))
            heads.append((rows + cols).sqrt())
            neurons.append(p.ffn_in.weight.norm(dim=1) * p.ffn_out.weight.norm(dim=0))
    return _normalise(heads), _normalise(neurons)


def top_k(scores: list[torch.Tensor], k: int) -> list[list[int]]:
    """Indices of the ``k`` best-scoring units of each layer, in ascending order."""
    return [sorted(torch.topk(s, k).indices.tolist()) for s in scores]


HIDDEN_METHODS = ("activation", "gradient")


def hidden_importance(model: torch.nn.Module, batches: Iterable[tuple[dict, torch.Tensor]], total: int,
                      method: str = "activation", bf16: bool = False, show_progress: bool = True) -> torch.Tensor:
    """One score per hidden (residual-stream) channel, from every LayerNorm output on the stream.

    ``activation``: mean |value| over real tokens, summed over the LayerNorms (Minitron). ``gradient``:
    |dL/dmask| of one mask shared by every LayerNorm output (first-order: removing the channel everywhere).
    """
    model.eval()
    device = device_of(model)
    norms = residual_parts(model).norms
    width = norms[0].normalized_shape[0]
    mask = torch.ones(width, requires_grad=method == "gradient")
    scores = torch.zeros(width)
    state: dict = {}

    def on_norm(module, args, output):
        if method == "activation":
            real = state["mask"].unsqueeze(-1).to(output.dtype)
            scores.add_(((output.detach().abs() * real).sum(tuple(range(output.dim() - 1))).float() / real.sum()).cpu())
            return None
        return output * mask.to(output)

    hooks = [n.register_forward_hook(on_norm) for n in norms]
    try:
        with ProgressBar(total, "hidden importance", enabled=show_progress) as bar:
            for inputs, labels in batches:
                inputs = to_device(inputs, device)
                state["mask"] = inputs["attention_mask"]
                with autocast(bf16, device), torch.set_grad_enabled(method == "gradient"):
                    logits = model(**inputs).logits
                if method == "gradient":
                    (grad,) = torch.autograd.grad(F.cross_entropy(logits.float(), labels.to(device)), [mask])
                    scores += grad.abs()
                bar.advance(len(labels))
    finally:
        for hook in hooks:
            hook.remove()
    return scores


LAYER_SELECTIONS = ("once", "greedy")


def mean_loss(model: torch.nn.Module, batches: list[tuple[dict, torch.Tensor]], bf16: bool = False) -> float:
    """The mean cross-entropy of ``model`` on ``batches``, as every layer measurement takes it."""
    device = device_of(model)
    total = 0.0
    with torch.no_grad(), autocast(bf16, device):
        for inputs, labels in batches:
            logits = model(**to_device(inputs, device)).logits.float()
            total += F.cross_entropy(logits, labels.to(device), reduction="sum").item()
    return total / sum(len(labels) for _, labels in batches)


def layer_importance(model: torch.nn.Module, batches: list[tuple[dict, torch.Tensor]], bf16: bool = False,
                     show_progress: bool = True) -> torch.Tensor:
    """How much the loss on ``batches`` rises when each layer alone is skipped (higher: more important)."""
    model.eval()
    container = layer_container(model)
    blocks = container.layer

    rises, replay = [], PrefixReplay(model)
    with ProgressBar(len(blocks) + 1, "layer importance", enabled=show_progress) as bar:
        full = mean_loss(model, batches, bf16)
        bar.advance(1)
        try:
            for i in range(len(blocks)):
                container.layer = torch.nn.ModuleList(b for j, b in enumerate(blocks) if j != i)
                # the layers before the skipped one compute what they did in the last pass: replay them, and keep
                # layer i - 1, which the next pass replays
                with replay.passes([None] * i + [i] * (len(blocks) - 1 - i), keep={i - 1}, only=True):
                    rises.append(mean_loss(model, batches, bf16) - full)
                bar.advance(1)
        finally:
            container.layer = blocks
    return torch.tensor(rises)


def greedy_layers(model: torch.nn.Module, batches: list[tuple[dict, torch.Tensor]], keep: int, bf16: bool = False,
                  show_progress: bool = True) -> tuple[list[int], list[list[float]]]:
    """The ``keep`` layers left after dropping, one at a time, the layer whose skipping raises the loss least, and
    measuring again after each drop: skipping each layer alone does not see what skipping neighbours together
    costs. Returns the kept layer indices and every round's loss rises (over the layers still in)."""
    container = layer_container(model)
    blocks = container.layer
    kept, rounds = list(range(len(blocks))), []
    try:
        while len(kept) > keep:
            container.layer = torch.nn.ModuleList(blocks[j] for j in kept)
            rises = layer_importance(model, batches, bf16, show_progress)
            rounds.append(rises.tolist())
            kept.pop(int(rises.argmin()))
    finally:
        container.layer = blocks
    return kept, rounds


def choose_layers(model: torch.nn.Module, batches: list[tuple[dict, torch.Tensor]], keep: int, selection: str,
                  bf16: bool = False, show_progress: bool = True) -> tuple[list[int], dict]:
    """The ``keep`` layers to keep, by ``selection`` (one of ``LAYER_SELECTIONS``), and what was measured: each
    layer's loss rise when skipped alone, and with ``greedy`` every round's."""
    if selection == "greedy":
        kept, rounds = greedy_layers(model, batches, keep, bf16, show_progress)
        return kept, {"layer_loss_rise": rounds[0], "layer_rounds": rounds}
    rises = layer_importance(model, batches, bf16, show_progress)
    return top_layers(rises, keep), {"layer_loss_rise": rises.tolist()}


def top_layers(rises: torch.Tensor, keep: int) -> list[int]:
    """The ``keep`` layers whose skipping alone raised the loss most, in model order."""
    return sorted(torch.topk(rises, keep).indices.tolist())
