"""Structured pruning of heads and FFN neurons, then re-distillation (``leanformer prune``)."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from leanformer.data.features import collate, encode, lengths, sorted_batches
from leanformer.distill.redistill import redistill
from leanformer.errors import LeanformerError
from leanformer.models import Manifest, count_parameters, load_model, save_model
from leanformer.models.anatomy import block_parts
from leanformer.models.manifest import Structure
from leanformer.models.structure import apply_structure, compose, current_structure
from leanformer.prune.importance import gradient_importance, magnitude_importance, top_k
from leanformer.prune.targets import parse_target, resolve_target
from leanformer.tasks import Task, task_for
from leanformer.training.loop import begin, score_split
from leanformer.training.options import TrainOptions
from leanformer.utils.config import option
from leanformer.utils.paths import check_output
from leanformer.utils.progress import info

METHODS = ("gradient", "magnitude")


@dataclass(kw_only=True)
class PruneConfig(TrainOptions):
    model: str = option(help="Leanformer model directory to prune.", flags=("--model", "-m"))
    output_dir: str = option(help="Directory for the pruned model (with --sweep: for all of them and the report).",
                             flags=("--output", "-o"))
    #: a count, or a ratio in (0, 1]; None keeps all
    heads: int | float | None = option(None, "Heads each layer keeps: a count (6) or a ratio (0.5).",
                                        parse=parse_target)
    ffn: int | float | None = option(None, "FFN neurons each layer keeps: a count (768) or a ratio (0.5).",
                                      parse=parse_target)
    method: str = option("gradient", "Importance: gradient (first-order, on training data) or magnitude.")
    importance_examples: int = option(2000, "Training examples used for gradient importance.")
    redistill: bool = option(True, "Distil the pruned model from the teacher afterwards (recovers accuracy).",
                             flags=("--redistill/--no-redistill",))
    teacher: str | None = option(None, "Teacher for re-distillation (default: the model before pruning).")
    temperature: float = option(2.0, "Softmax temperature of the soft targets when re-distilling.")
    alpha: float = option(0.0, "Weight of the hard-label loss when re-distilling.")
    data_dir: str | None = option(None, "Read the task's data from here instead of where the model's manifest "
                                        "says.")
    epochs: int = 2
    learning_rate: float = 5e-5


def importance(model, tokenizer, task: Task, cfg: PruneConfig, bf16: bool):
    """Head and neuron scores on a seeded sample of the training split."""
    if cfg.method not in METHODS:
        raise LeanformerError(f"unknown importance method '{cfg.method}'; expected one of {', '.join(METHODS)}")
    if cfg.method == "magnitude":
        return magnitude_importance(model)
    # every split the run reads is checked before the work; test only when re-distillation will score it
    examples = task.read_for_training(cfg.importance_examples, cfg.seed, test=cfg.redistill)
    features = encode(examples, tokenizer, cfg.max_length)
    labels = np.array([ex.label for ex in examples])
    batches = ((collate([features[i] for i in idx], tokenizer.pad_token_id, task.multiple_choice),
                torch.from_numpy(labels[idx])) for idx in sorted_batches(lengths(features), cfg.batch_size))
    return gradient_importance(model, batches, len(examples), bf16, cfg.show_progress)


def targets(model, cfg: PruneConfig) -> tuple[int | None, int | None]:
    part = block_parts(model)[0]
    heads = resolve_target(cfg.heads, part.num_heads, "heads")
    ffn = resolve_target(cfg.ffn, part.ffn_in.out_features, "FFN neurons")
    if heads is None and ffn is None:
        raise LeanformerError("nothing to prune: give a heads and/or an FFN target")
    return heads, ffn


def prune_copy(model, manifest: Manifest, scores, heads: int | None, ffn: int | None):
    """A physically pruned copy of ``model`` keeping the top-scoring units, and the manifest structure it has."""
    head_scores, neuron_scores = scores
    keep_heads = top_k(head_scores, heads) if heads is not None else None
    keep_neurons = top_k(neuron_scores, ffn) if ffn is not None else None
    pruned = apply_structure(copy.deepcopy(model), keep_heads, keep_neurons)
    previous = manifest.structure or Structure()
    return pruned, Structure(heads=compose(previous.heads, keep_heads), neurons=compose(previous.neurons, keep_neurons))


def pruned_manifest(manifest: Manifest, model, pruned, structure: Structure, **details) -> Manifest:
    """``manifest`` with the pruned structure and a ``prune`` lineage step."""
    summary = current_structure(pruned)
    return dataclasses.replace(manifest, structure=structure).with_step(
        "prune", **details, heads_per_layer=summary["heads_per_layer"][0], ffn_per_layer=summary["ffn_per_layer"][0],
        parameters_before=count_parameters(model), parameters=count_parameters(pruned))


def redistill_pruned(cfg: PruneConfig, pruned, tokenizer, manifest: Manifest, output_dir: str | Path) -> dict:
    """Re-distil a pruned model from the configured teacher (default: the model before pruning)."""
    return redistill(pruned, tokenizer, manifest, output_dir, cfg.teacher or cfg.model, cfg, cfg.temperature,
                     cfg.alpha, cfg.data_dir)


def prune(cfg: PruneConfig) -> dict:
    """Prune ``cfg.model`` to the targets, then (by default) re-distil it; returns metrics and location."""
    bf16 = begin(cfg)
    check_output(cfg.output_dir, [cfg.model, cfg.teacher, cfg.data_dir], cfg.overwrite)
    model, tokenizer, manifest = load_model(cfg.model)
    cfg = dataclasses.replace(cfg, max_length=manifest.input_length(cfg.max_length))
    task = task_for(manifest.task, cfg.data_dir)
    heads, ffn = targets(model, cfg)
    scores = importance(model, tokenizer, task, cfg, bf16)
    details = {"source": str(cfg.model), "method": cfg.method, "importance_examples": cfg.importance_examples,
               "targets": {"heads": cfg.heads, "ffn": cfg.ffn}}
    pruned, structure = prune_copy(model, manifest, scores, heads, ffn)
    info(f"pruned to {heads or 'all'} heads and {ffn or 'all'} FFN neurons per layer: "
         f"{count_parameters(model) / 1e6:.2f}M -> {count_parameters(pruned) / 1e6:.2f}M parameters")
    if not cfg.redistill:
        metrics = {"dev": score_split(pruned, tokenizer, task, "dev", cfg, bf16)}
        save_model(pruned, tokenizer, pruned_manifest(manifest, model, pruned, structure, **details, metrics=metrics),
                   cfg.output_dir)
        return {"output_dir": cfg.output_dir, "metrics": metrics, "structure": current_structure(pruned)}
    result = redistill_pruned(cfg, pruned, tokenizer, pruned_manifest(manifest, model, pruned, structure, **details),
                              cfg.output_dir)
    return {**result, "structure": current_structure(pruned)}
