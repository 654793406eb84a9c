"""Accuracy-driven approximation (``leanformer approximate``): remove components from the least significant
up while the metric on the training sample stays within the budget, then remove them physically.

Goals, as in AxFormer: ``faster`` visits whole sublayers first (attention, then FFN), then heads and neuron
groups; ``smaller`` visits what holds the most parameters first (FFN, neuron groups, attention, heads);
``accurate`` removes only components whose removal raised the metric, and keeps each only if it still does.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from leanformer.approx.components import Component, removal
from leanformer.approx.significance import AnalyzeConfig, significance, start, write_table
from leanformer.distill.redistill import redistill
from leanformer.errors import LeanformerError
from leanformer.models import count_parameters, save_model
from leanformer.models.anatomy import block_parts
from leanformer.models.attention import IMPLEMENTATION, METHODS
from leanformer.models.manifest import Structure
from leanformer.models.structure import apply_structure, compose, current_structure
from leanformer.training.loop import score_split
from leanformer.training.options import TrainOptions
from leanformer.utils.config import option
from leanformer.utils.paths import append_row, check_output, is_leanformer_output, prepare_output_dir, read_rows
from leanformer.utils.progress import ProgressBar, info

GOALS = {"faster": ("attention", "ffn", "head", "group"), "smaller": ("ffn", "group", "attention", "head"),
         "accurate": ("attention", "ffn", "head", "group")}


@dataclass(kw_only=True)
class ApproximateConfig(AnalyzeConfig):
    output_dir: str = option(help="Directory for the approximated model.", flags=("--output", "-o"))
    goal: str = option("faster", "faster, smaller or accurate.")
    budget: float = option(0.005, "Relative drop of the metric allowed on the training sample (0.005: 0.5%).")
    loss_budget: float | None = option(None, "Also keep the sample loss within this relative rise of the start "
                                             "(0.05: 5%): a metric on a few hundred examples moves in whole "
                                             "examples and can stay put while the loss climbs.")
    redistill_epochs: int = option(0, "Distil the approximated model from the starting one for this many epochs "
                                      "(0: no distillation).")
    learning_rate: float | None = option(None, "Learning rate of that distillation (default: by model width).")
    train_limit: int | None = option(None, "Distil on a random subset of this many training examples.")
    eval_limit: int | None = option(None, "Score dev and test on the first N examples only.")
    attention: str | None = option(None, "Then approximate the attention of every layer that tolerates it within "
                                         "the budget: sign_match or hard (top-k keys per query).")
    attention_k: int = option(16, "Keys each query attends to with --attention.")
    analysis: str | None = option(None, "Folder of an earlier analysis of this model (leanformer analyze, or another "
                                        "goal's OUTPUT-significance) with the same settings: its rows are reused "
                                        "and completed there (default: OUTPUT-significance).")


def order(rows: list[dict], goal: str) -> list[Component]:
    """The candidates in the order the goal visits them: by kind, then least significant first."""
    tiers = GOALS[goal]
    if goal == "accurate":
        rows = [r for r in rows if r["metric_change"] > 0]
    ranked = sorted(rows, key=lambda r: (tiers.index(r["kind"]), r["loss_change"]))
    return [Component(r["layer"], r["kind"], r["index"]) for r in ranked]


def _covered(c: Component, removed: set[Component]) -> bool:
    """A head of a removed attention, or a group of a removed FFN, is gone already."""
    whole = {"head": "attention", "group": "ffn"}.get(c.kind)
    return whole is not None and Component(c.layer, whole) in removed


def _listed(removed: set[Component]) -> list[list]:
    return sorted([c.layer, c.kind, c.index] for c in removed)


def acceptance(base: dict, goal: str, budget: float, loss_budget: float | None):
    """The rule every removal is kept by, ``accepts(trial, current)``: its metric at or above the floor
    (``accurate``: above the current) and, with ``loss_budget``, its loss within that relative rise of the start's."""
    floor = base["metric"] * (1 - budget)
    ceiling = float("inf") if loss_budget is None else base["loss"] * (1 + loss_budget)

    def accepts(trial: dict, current: dict) -> bool:
        kept = trial["metric"] > current["metric"] if goal == "accurate" else trial["metric"] >= floor
        return kept and trial["loss"] <= ceiling
    return accepts


def greedy(scorer, candidates: list[Component], goal: str, budget: float, show_progress: bool = True,
           trials: Path | None = None, loss_budget: float | None = None):
    """Keep each removal that the goal's ``acceptance`` rule takes.

    ``trials``: a log of every measurement (what was removed, and the metric on the sample), so a killed run
    resumes where it stopped: any run on the same sample takes the measurement of the same removals from it."""
    logged = {json.dumps(row["removed"]): row["measured"] for row in read_rows(trials)} if trials else {}
    base = scorer(set())
    accepts = acceptance(base, goal, budget, loss_budget)
    removed: set[Component] = set()
    current = base
    with ProgressBar(len(candidates), f"approximate ({goal})", enabled=show_progress) as bar:
        for c in candidates:
            if not _covered(c, removed):
                tried = _listed(removed | {c})
                trial = logged.get(json.dumps(tried))
                if trial is None:
                    trial = scorer(removed, replay=True, trial=c)  # only masks change while the loop runs
                    if trials:
                        append_row(trials, {"removed": tried, "measured": trial})
                if accepts(trial, current):
                    removed.add(c)
                    current = trial
            bar.advance(1)
    return removed, base, current


def approximate_attention(model, scorer, rows: list[dict], removed: set[Component], group_size: int, spec: dict,
                          accepts, current: dict) -> tuple[dict[str, dict], dict]:
    """Approximate the attention of the layers that the ``acceptance`` rule takes, least significant attention
    first; returns the chosen layers and the last measurement."""
    chosen: dict[str, dict] = {}
    model.set_attn_implementation(IMPLEMENTATION)
    parts = block_parts(model)
    # a layer's attention weighs what its analysis row says (or its heads' rows, when only heads were analysed)
    keep_heads, _ = removal(model, removed, group_size)
    weight = {i: 0.0 for i, heads in enumerate(keep_heads) if heads}
    for r in rows:
        if r["kind"] in ("attention", "head") and r["layer"] in weight:
            weight[r["layer"]] += r["loss_change"]
    for layer in sorted(weight, key=weight.get):
        parts[layer].attention.approximate_attention = spec
        trial = scorer(removed)
        if accepts(trial, current):
            chosen[str(layer)], current = spec, trial
        else:
            del parts[layer].attention.approximate_attention
    return chosen, current


def uniform_peer(summary: dict) -> dict:
    """The pruning step's model at equal cost: as many heads and FFN neurons in all as the approximated model,
    the same number in every layer, so the two compare at (nearly) equal latency."""
    layers = len(summary["heads_per_layer"])
    return {"heads": max(1, round(sum(summary["heads_per_layer"]) / layers)),
            "ffn": max(1, round(sum(summary["ffn_per_layer"]) / layers))}


def approximate(cfg: ApproximateConfig) -> dict:
    """Analyse (tables in OUTPUT-significance), remove greedily, save the smaller model to OUTPUT."""
    if cfg.goal not in GOALS:
        raise LeanformerError(f"unknown goal '{cfg.goal}'; expected one of {', '.join(GOALS)}")
    if cfg.attention is not None and cfg.attention not in METHODS:
        raise LeanformerError(f"unknown approximate attention '{cfg.attention}'; expected one of {', '.join(METHODS)}")
    if not 0 <= cfg.budget < 1:
        raise LeanformerError(f"budget is a relative metric drop in [0, 1), got {cfg.budget}")
    if cfg.loss_budget is not None and cfg.loss_budget < 0:
        raise LeanformerError(f"loss budget is a relative loss rise >= 0, got {cfg.loss_budget}")
    check_output(cfg.output_dir, [cfg.model, cfg.data_dir], cfg.overwrite)
    # the analysis is an output of its own, beside the model (or the given one), and resumes if interrupted
    if cfg.analysis is not None and not is_leanformer_output(cfg.analysis):
        raise LeanformerError(f"{cfg.analysis}: not a leanformer analysis folder (leanformer analyze -o FOLDER)")
    tables = (Path(cfg.analysis) if cfg.analysis is not None else
              prepare_output_dir(f"{cfg.output_dir}-significance", [cfg.model, cfg.data_dir], resumable=True))
    model, tokenizer, manifest, task, scorer, found = start(cfg)
    analysis = significance(model, scorer, found, cfg.group_size, tables, cfg.show_progress)
    write_table(tables, {"model": cfg.model, "metric": task.primary_metric, "examples": len(scorer.examples),
                         "group_size": cfg.group_size, **analysis})
    removed, base, final = greedy(scorer, order(analysis["rows"], cfg.goal), cfg.goal, cfg.budget, cfg.show_progress,
                                  tables / "trials.jsonl", cfg.loss_budget)
    attention = {}
    if cfg.attention:
        spec = {"method": cfg.attention, "k": cfg.attention_k}
        attention, final = approximate_attention(model, scorer, analysis["rows"], removed, cfg.group_size, spec,
                                                 acceptance(base, cfg.goal, cfg.budget, cfg.loss_budget), final)
    heads, neurons = removal(model, removed, cfg.group_size)
    smaller = apply_structure(copy.deepcopy(model), heads, neurons)
    previous = manifest.structure or Structure()
    structure = dataclasses.replace(previous, heads=compose(previous.heads, heads),
                                    neurons=compose(previous.neurons, neurons),
                                    attention={**(previous.attention or {}), **attention} or None)
    summary = current_structure(smaller)
    details = {"source": cfg.model, "goal": cfg.goal, "budget": cfg.budget, "loss_budget": cfg.loss_budget,
               "examples": len(scorer.examples),
               "group_size": cfg.group_size, "removed": sorted(c.name for c in removed),
               "approximate_attention": attention or None,
               "sample_before": base, "sample_after": final, "heads_per_layer": summary["heads_per_layer"],
               "ffn_per_layer": summary["ffn_per_layer"], "uniform_peer": uniform_peer(summary),
               "parameters_before": count_parameters(model), "parameters": count_parameters(smaller)}
    info(f"approximate ({cfg.goal}): removed {len(removed)} components; sample {task.primary_metric} "
         f"{base['metric']:.4f} -> {final['metric']:.4f}; {details['parameters_before'] / 1e6:.2f}M -> "
         f"{details['parameters'] / 1e6:.2f}M parameters; uniform pruning at equal cost: leanformer prune -m "
         f"{cfg.model} --heads {details['uniform_peer']['heads']} --ffn {details['uniform_peer']['ffn']}")
    approximated = dataclasses.replace(manifest, structure=structure).with_step("approximate", **details)
    cfg = scorer.cfg  # with the model's own input length resolved
    if cfg.redistill_epochs:
        options = TrainOptions(epochs=cfg.redistill_epochs, learning_rate=cfg.learning_rate, max_length=cfg.max_length,
                               seed=cfg.seed, bf16=cfg.bf16, train_limit=cfg.train_limit, eval_limit=cfg.eval_limit,
                               threads=cfg.threads, device=cfg.device, overwrite=cfg.overwrite,
                               show_progress=cfg.show_progress)
        result = redistill(smaller, tokenizer, approximated, cfg.output_dir, cfg.model, options, data_dir=cfg.data_dir)
    else:
        opts = TrainOptions(max_length=cfg.max_length, eval_limit=cfg.eval_limit, show_progress=cfg.show_progress)
        metrics = {split: score_split(smaller, tokenizer, task, split, opts, scorer.bf16) for split in ("dev", "test")}
        save_model(smaller, tokenizer, approximated.with_step("score", metrics=metrics), cfg.output_dir)
        result = {"output_dir": cfg.output_dir, "metrics": metrics}
    return {**result, "removed": details["removed"], "sample_before": base, "sample_after": final,
            "parameters": details["parameters"], "parameters_before": details["parameters_before"],
            "uniform_peer": details["uniform_peer"]}
