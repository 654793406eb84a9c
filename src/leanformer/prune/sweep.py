"""The latency/accuracy trade-off of pruning (``leanformer prune --sweep``; FastFormers' Figure 2).

Importance is computed once and shared by every target; each target is pruned, re-distilled
briefly and scored on dev; then ``bench.pruning`` measures every model side by side. A finished
target's model is kept, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from leanformer.bench.pruning import measure_model, write_sweep
from leanformer.models import Manifest, load_model
from leanformer.prune.pruner import (PruneConfig, importance, prune_copy, pruned_manifest, redistill_pruned,
                                     targets)
from leanformer.prune.targets import parse_target_pairs
from leanformer.tasks import task_for
from leanformer.training.loop import begin, score_split
from leanformer.utils.config import option
from leanformer.utils.device import resolve_device
from leanformer.utils.paths import prepare_output_dir
from leanformer.utils.progress import info

DEFAULT_TARGETS = [(1.0, 0.5), (0.75, 0.75), (0.5, 0.5), (0.5, 0.25), (0.25, 0.25)]


@dataclass(kw_only=True)
class SweepConfig(PruneConfig):
    #: (heads, ffn) pairs, each a count or a ratio
    targets: list[tuple[int | float, int | float]] = option(
        help="Sweep: HEADS:FFN pairs, e.g. 1.0:0.5,0.5:0.5,6:768 (default: five levels from 1.0:0.5 to 0.25:0.25).",
        factory=lambda: list(DEFAULT_TARGETS), parse=parse_target_pairs)
    latency_examples: int = option(200, "Sweep: dev examples timed one by one for the latency column.")
    epochs: int = 1


def sweep(cfg: SweepConfig) -> dict:
    """Prune to each target, re-distil, time and score; write ``sweep.md``, ``.csv``, ``.json`` and ``.png``."""
    bf16 = begin(cfg)
    model, tokenizer, manifest = load_model(cfg.model)
    model.to(resolve_device(cfg.device))
    cfg = replace(cfg, max_length=manifest.input_length(cfg.max_length))
    task = task_for(manifest.task, cfg.data_dir)
    resolved = [targets(model, _with(cfg, h, f)) for h, f in cfg.targets]  # validate every target up front
    # a rerun continues: finished targets are reused
    out = prepare_output_dir(cfg.output_dir, [cfg.model, cfg.teacher, cfg.data_dir], cfg.overwrite, resumable=True)
    models = [("unpruned", cfg.model, manifest.metrics or {"dev": score_split(model, tokenizer, task, "dev", cfg, bf16)})]
    scores = importance(model, tokenizer, task, cfg, bf16)
    for (h, f), (heads, ffn) in zip(cfg.targets, resolved):
        name = f"heads{heads or 'all'}-ffn{ffn or 'all'}"
        target_dir = out / name
        if Manifest.read(target_dir) is None:
            info(f"sweep: {name}")
            details = {"source": str(cfg.model), "method": cfg.method, "targets": {"heads": h, "ffn": f}}
            pruned, structure = prune_copy(model, manifest, scores, heads, ffn)
            redistill_pruned(cfg, pruned, tokenizer, pruned_manifest(manifest, model, pruned, structure, **details),
                             target_dir)
        models.append((name, target_dir, Manifest.read(target_dir).metrics))
    timed = task.examples("dev")[: cfg.latency_examples]
    rows = [measure_model(name, model_dir, task, metrics, timed, out / "onnx", cfg.max_length, cfg.threads,
                          cfg.data_dir) for name, model_dir, metrics in models]
    write_sweep(out, rows, task.primary_metric)
    return {"output_dir": str(out), "rows": rows}


def _with(cfg: SweepConfig, heads, ffn) -> PruneConfig:
    return replace(cfg, heads=heads, ffn=ffn)
