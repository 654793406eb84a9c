"""Structured pruning: heads, FFN neurons, hidden channels and whole layers, then re-distillation (``leanformer prune``).

One step scores every unit on training data, keeps the best, and distils the result from the
teacher. Several steps (``steps``) reach the target shape gradually, each distilled before the
next is scored (iterative prune-and-distil, as Minitron); every step's model is kept, so a rerun
continues after the last finished one.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from leanformer.data.features import collate, encode, lengths, sorted_batches
from leanformer.distill.distiller import CACHE_INTERNALS_HELP
from leanformer.distill.redistill import redistill
from leanformer.errors import LeanformerError
from leanformer.models import Manifest, count_parameters, load_model, save_model
from leanformer.models.anatomy import block_parts, hidden_width, keep_layers
from leanformer.models.manifest import Structure
from leanformer.models.structure import apply_structure, compose, current_structure
from leanformer.prune.importance import (HIDDEN_METHODS, LAYER_SELECTIONS, choose_layers, gradient_importance,
                                         hidden_importance, magnitude_importance, top_k)
from leanformer.prune.targets import Shape, parse_target, resolve_target, schedule
from leanformer.tasks import Task, task_for
from leanformer.training.loop import begin, score_split
from leanformer.training.options import TrainOptions
from leanformer.utils.config import option
from leanformer.utils.device import resolve_device
from leanformer.utils.paths import check_output
from leanformer.utils.progress import info

METHODS = ("gradient", "magnitude")


@dataclass(kw_only=True)
class PruneConfig(TrainOptions):
    model: str = option(help="Leanformer model directory to prune.", flags=("--model", "-m"))
    output_dir: str = option(help="Directory for the pruned model (with --sweep: for all of them and the report; "
                                  "with --steps N, steps before the last go to OUTPUT-step1 ...).",
                             flags=("--output", "-o"))
    #: a count, or a ratio in (0, 1]; None keeps all
    heads: int | float | None = option(None, "Heads each layer keeps: a count (6) or a ratio (0.5).",
                                        parse=parse_target)
    ffn: int | float | None = option(None, "FFN neurons each layer keeps: a count (768) or a ratio (0.5).",
                                      parse=parse_target)
    hidden: int | float | None = option(None, "Hidden (residual-stream) channels to keep: a count (384) or a ratio "
                                              "(0.5).", parse=parse_target)
    layers: int | None = option(None, "Layers to keep: the ones whose removal raises the training loss most.")
    layer_selection: str = option("once", "How --layers chooses: once (each layer skipped alone, one measurement) "
                                          "or greedy (drop the least important layer, measure again, repeat).")
    steps: int = option(1, "Reach the targets in this many prune-and-distil steps (shapes shrink linearly).")
    method: str = option("gradient", "Head/neuron importance: gradient (first-order, on training data) or "
                                     "magnitude.")
    hidden_method: str = option("activation", "Hidden-channel importance: activation (mean |LayerNorm output|, "
                                              "Minitron) or gradient (first-order).")
    importance_examples: int = option(2000, "Training examples used for importance.")
    redistill: bool = option(True, "Distil the pruned model from the teacher afterwards (recovers accuracy).",
                             flags=("--redistill/--no-redistill",))
    teacher: str | None = option(None, "Teacher for re-distillation (default: the model before pruning).")
    temperature: float = option(2.0, "Softmax temperature of the soft targets when re-distilling.")
    alpha: float = option(0.0, "Weight of the hard-label loss when re-distilling.")
    hidden_weight: float = option(0.0, "Weight of the hidden-state MSE when re-distilling (a model pruned from "
                                       "its teacher is compared on the channels and layers it kept).")
    attention_weight: float = option(0.0, "Weight of the attention-map MSE when re-distilling.")
    augment: int = option(0, "Word-perturbed copies of each training example added when re-distilling, labelled "
                             "by the teacher.")
    cache_internals: bool = option(False, CACHE_INTERNALS_HELP, flags=("--cache-internals",))
    data_dir: str | None = option(None, "Read the task's data from here instead of where the model's manifest "
                                        "says.")
    epochs: int = 2
    learning_rate: float = 5e-5


def importance_batches(tokenizer, task: Task, cfg: PruneConfig) -> tuple[list, int]:
    """Batches of (inputs, labels) from a seeded sample of the training split, and how many examples."""
    # every split the run reads is checked before the work; test only when re-distillation will score it
    examples = task.read_for_training(cfg.importance_examples, cfg.seed, test=cfg.redistill)
    features = encode(examples, tokenizer, cfg.max_length)
    labels = np.array([ex.label for ex in examples])
    return [(collate([features[i] for i in idx], tokenizer.pad_token_id, task.multiple_choice),
             torch.from_numpy(labels[idx])) for idx in sorted_batches(lengths(features), cfg.batch_size)], len(examples)


def importance(model, tokenizer, task: Task, cfg: PruneConfig, bf16: bool, batches=None):
    """Head and neuron scores on a seeded sample of the training split."""
    if cfg.method not in METHODS:
        raise LeanformerError(f"unknown importance method '{cfg.method}'; expected one of {', '.join(METHODS)}")
    if cfg.method == "magnitude":
        return magnitude_importance(model)
    batches, total = batches or importance_batches(tokenizer, task, cfg)
    return gradient_importance(model, batches, total, bf16, cfg.show_progress)


def targets(model, cfg: PruneConfig) -> tuple[int | None, int | None]:
    """Heads and FFN neurons per layer the config asks for (the sweep's targets)."""
    part = block_parts(model)[0]
    return (resolve_target(cfg.heads, part.num_heads, "heads"),
            resolve_target(cfg.ffn, part.ffn_in.out_features, "FFN neurons"))


def target_shape(model, cfg: PruneConfig) -> Shape:
    heads, ffn = targets(model, cfg)
    shape = Shape(heads, ffn, resolve_target(cfg.hidden, hidden_width(model), "hidden channels"),
                  resolve_target(cfg.layers, len(block_parts(model)), "layers"))
    if shape == Shape():
        raise LeanformerError("nothing to prune: give a heads, FFN, hidden or layers target")
    if cfg.hidden_method not in HIDDEN_METHODS:
        raise LeanformerError(f"unknown hidden importance '{cfg.hidden_method}'; expected one of "
                              f"{', '.join(HIDDEN_METHODS)}")
    return shape


def shape_of(model) -> Shape:
    part = block_parts(model)[0]
    return Shape(part.num_heads, part.ffn_in.out_features, hidden_width(model), len(block_parts(model)))


def prune_copy(model, manifest: Manifest, scores, heads: int | None, ffn: int | None,
               hidden_scores: torch.Tensor | None = None, hidden: int | None = None):
    """A physically pruned copy of ``model`` keeping the top-scoring units, and the manifest structure it has."""
    head_scores, neuron_scores = scores
    keep_heads = top_k(head_scores, heads) if heads is not None else None
    keep_neurons = top_k(neuron_scores, ffn) if ffn is not None else None
    keep_hidden = top_k([hidden_scores], hidden)[0] if hidden is not None else None
    pruned = apply_structure(copy.deepcopy(model), keep_heads, keep_neurons, keep_hidden)
    previous = manifest.structure or Structure()
    return pruned, dataclasses.replace(previous, heads=compose(previous.heads, keep_heads),
                                       neurons=compose(previous.neurons, keep_neurons),
                                       hidden=compose(previous.hidden, keep_hidden))


def drop_layers(model, manifest: Manifest, batches: list, keep: int, selection: str, bf16: bool,
                show_progress: bool):
    """A copy keeping the ``keep`` layers whose removal hurts the training loss most, its manifest, and what was
    measured (``choose_layers``)."""
    kept, measured = choose_layers(model, batches, keep, selection, bf16, show_progress)
    info(f"layer importance (loss rise when skipped): {', '.join(f'{r:.3f}' for r in measured['layer_loss_rise'])}; "
         f"keeping {kept} ({selection})")
    structure = (manifest.structure or Structure()).keep_layers(kept)
    measured = {k: _rounded(v) for k, v in measured.items()}
    return keep_layers(copy.deepcopy(model), kept), dataclasses.replace(manifest, structure=structure), \
        {**measured, "layer_selection": selection, "layers_kept": kept}


def _rounded(values: list) -> list:
    return [_rounded(v) if isinstance(v, list) else round(v, 5) for v in values]


def pruned_manifest(manifest: Manifest, model, pruned, structure: Structure, **details) -> Manifest:
    """``manifest`` with the pruned structure and a ``prune`` lineage step."""
    summary = current_structure(pruned)
    return dataclasses.replace(manifest, structure=structure).with_step(
        "prune", **details, heads_per_layer=summary["heads_per_layer"][0], ffn_per_layer=summary["ffn_per_layer"][0],
        hidden=summary["hidden"], layers=summary["layers"], parameters_before=count_parameters(model),
        parameters=count_parameters(pruned))


def redistill_pruned(cfg: PruneConfig, pruned, tokenizer, manifest: Manifest, output_dir: str | Path) -> dict:
    """Re-distil a pruned model from the configured teacher (default: the model before pruning)."""
    return redistill(pruned, tokenizer, manifest, output_dir, cfg.teacher or cfg.model, cfg, cfg.temperature,
                     cfg.alpha, cfg.data_dir, cfg.hidden_weight, cfg.attention_weight, cfg.augment, cfg.cache_internals)


def prune_step(model, tokenizer, manifest: Manifest, task: Task, shape: Shape, cfg: PruneConfig, bf16: bool):
    """Layers first (by the loss rise when each is skipped), then heads, neurons and hidden channels, all scored
    on the model as it is at that point; returns the pruned model, its structure and what was measured."""
    batches = importance_batches(tokenizer, task, cfg) if cfg.method == "gradient" or shape.layers \
        or shape.hidden else None
    details: dict = {}
    if shape.layers is not None and shape.layers < len(block_parts(model)):
        model, manifest, details = drop_layers(model, manifest, batches[0], shape.layers, cfg.layer_selection, bf16,
                                               cfg.show_progress)
    scores = importance(model, tokenizer, task, cfg, bf16, batches) if shape.heads or shape.ffn else ([], [])
    hidden_scores = (hidden_importance(model, batches[0], batches[1], cfg.hidden_method, bf16, cfg.show_progress)
                     if shape.hidden is not None and shape.hidden < hidden_width(model) else None)
    pruned, structure = prune_copy(model, manifest, scores, shape.heads, shape.ffn, hidden_scores,
                                   shape.hidden if hidden_scores is not None else None)
    return model, manifest, pruned, structure, details


def prune(cfg: PruneConfig) -> dict:
    """Prune ``cfg.model`` to the targets in ``cfg.steps`` steps, each re-distilled (by default) from the
    teacher; returns the last step's metrics and location."""
    if cfg.layer_selection not in LAYER_SELECTIONS:
        raise LeanformerError(f"unknown --layer-selection '{cfg.layer_selection}'; expected one of "
                              f"{', '.join(LAYER_SELECTIONS)}")
    bf16 = begin(cfg)
    check_output(cfg.output_dir, [cfg.model, cfg.teacher, cfg.data_dir], cfg.overwrite)
    device = resolve_device(cfg.device)
    model, tokenizer, manifest = load_model(cfg.model)
    model.to(device)
    cfg = dataclasses.replace(cfg, max_length=manifest.input_length(cfg.max_length))
    task = task_for(manifest.task, cfg.data_dir)
    target = target_shape(model, cfg)
    if cfg.steps > 1 and not cfg.redistill:
        raise LeanformerError("several steps need re-distillation between them; drop --no-redistill or --steps")
    plan = schedule(shape_of(model), target, cfg.steps)
    # every step distils from the one teacher: the model before any pruning unless another is named
    cfg = dataclasses.replace(cfg, teacher=cfg.teacher or cfg.model)
    for k, shape in enumerate(plan, 1):
        out = cfg.output_dir if k == len(plan) else f"{cfg.output_dir}-step{k}"
        if k < len(plan) and _finished(out, shape):
            info(f"prune: step {k}/{len(plan)} {out} exists, continuing from it")
            model, tokenizer, manifest = load_model(out)
            model.to(device)
            continue
        if k < len(plan):
            check_output(out, [cfg.model, cfg.teacher, cfg.data_dir], cfg.overwrite)
        before = model
        model, manifest, pruned, structure, measured = prune_step(model, tokenizer, manifest, task, shape, cfg, bf16)
        summary = current_structure(pruned)
        info(f"prune: step {k}/{len(plan)}: {summary['layers']} layers x {summary['hidden']} hidden, "
             f"{summary['heads_per_layer'][0]} heads, {summary['ffn_per_layer'][0]} FFN: "
             f"{count_parameters(before) / 1e6:.2f}M -> {count_parameters(pruned) / 1e6:.2f}M parameters")
        details = {"source": str(cfg.model), "method": cfg.method, "hidden_method": cfg.hidden_method,
                   "importance_examples": cfg.importance_examples, "pruning_step": f"{k}/{len(plan)}",
                   "targets": {"heads": cfg.heads, "ffn": cfg.ffn, "hidden": cfg.hidden, "layers": cfg.layers},
                   "shape": dataclasses.asdict(shape), **measured}
        if not cfg.redistill:
            metrics = {"dev": score_split(pruned, tokenizer, task, "dev", cfg, bf16)}
            save_model(pruned, tokenizer, pruned_manifest(manifest, before, pruned, structure, **details,
                                                          metrics=metrics), out)
            return {"output_dir": out, "metrics": metrics, "structure": summary}
        result = redistill_pruned(cfg, pruned, tokenizer, pruned_manifest(manifest, before, pruned, structure,
                                                                          **details), out)
        if k < len(plan):
            model, tokenizer, manifest = load_model(out)
            model.to(device)
    return {**result, "structure": summary, "steps": len(plan)}


def _finished(model_dir: str, shape: Shape) -> bool:
    """An earlier run's step of this very shape, distilled and published."""
    manifest = Manifest.read(model_dir)
    if manifest is None:
        return False
    recorded = next((e.get("shape") for e in reversed(manifest.lineage) if e.get("step") == "prune"), None)
    if recorded != dataclasses.asdict(shape):
        raise LeanformerError(f"{model_dir} holds a step of another pruning run (shape {recorded}); remove it or "
                              f"choose another output")
    return True
