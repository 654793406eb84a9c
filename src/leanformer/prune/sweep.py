"""The latency/accuracy trade-off of pruning (``leanformer prune --sweep``; FastFormers' Figure 2).

Importance is computed once and shared by every target; each target is pruned, re-distilled
briefly and scored on dev; then every model is timed on the same single queries at their own
length, in PyTorch fp32 and in the int8 ONNX Runtime path. A finished target's model is kept, so
an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from leanformer.data.features import encode
from leanformer.models import Manifest, count_parameters, load_model
from leanformer.models.structure import current_structure
from leanformer.prune.pruner import (PruneConfig, importance, prune_copy, pruned_manifest, redistill_pruned,
                                     targets)
from leanformer.quantize import export_int8
from leanformer.runtime.predictor import Predictor
from leanformer.tasks import task_for
from leanformer.training.loop import begin, score_split
from leanformer.utils.cpu import physical_cores
from leanformer.utils.config import option
from leanformer.utils.paths import atomic_write_text, prepare_output_dir
from leanformer.utils.plots import labelled_scatter
from leanformer.utils.progress import info
from leanformer.bench.latency import predictor_latency, torch_latency

DEFAULT_TARGETS = [(1.0, 0.5), (0.75, 0.75), (0.5, 0.5), (0.5, 0.25), (0.25, 0.25)]


@dataclass(kw_only=True)
class SweepConfig(PruneConfig):
    #: (heads, ffn) pairs, each a count or a ratio
    targets: list[tuple[int | float, int | float]] = field(default_factory=lambda: list(DEFAULT_TARGETS),
                                                           metadata={"cli": False})
    latency_examples: int = option(200, "Sweep: dev examples timed one by one for the latency column.", cli=False)
    epochs: int = 1


def _row(name: str, model_dir: Path | str, task, cfg: SweepConfig, metrics: dict, examples: list) -> dict:
    """Size, dev metric, and single-query latency in PyTorch fp32 and in the int8 ONNX Runtime path."""
    model, tokenizer, _ = load_model(model_dir)
    latency = torch_latency(model, encode(examples, tokenizer, cfg.max_length), tokenizer.pad_token_id,
                            task.multiple_choice)
    int8 = export_int8(str(model_dir), Path(cfg.output_dir) / "onnx", name, data_dir=cfg.data_dir)
    predictor = Predictor(int8, threads=cfg.threads or physical_cores(), sort_by_length=False, max_length=cfg.max_length)
    structure = current_structure(model)
    return {"model": name, "heads": structure["heads_per_layer"][0], "ffn": structure["ffn_per_layer"][0],
            "parameters": count_parameters(model), "latency_ms": round(latency["median_ms"], 3),
            "int8_ort_ms": round(predictor_latency(predictor, examples)["median_ms"], 3),
            task.primary_metric: round(metrics["dev"][task.primary_metric], 4)}


def sweep(cfg: SweepConfig) -> dict:
    """Prune to each target, re-distil, time and score; write ``sweep.md``, ``.csv``, ``.json`` and ``.png``."""
    bf16 = begin(cfg)
    model, tokenizer, manifest = load_model(cfg.model)
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
    rows = [_row(name, model_dir, task, cfg, metrics, timed) for name, model_dir, metrics in models]
    _write(out, rows, task.primary_metric)
    return {"output_dir": str(out), "rows": rows}


def _with(cfg: SweepConfig, heads, ffn) -> PruneConfig:
    return replace(cfg, heads=heads, ffn=ffn)


def _write(out: Path, rows: list[dict], metric: str) -> None:
    columns = list(rows[0])
    speedups = {"speed-up (PyTorch)": "latency_ms", "speed-up (int8 ORT)": "int8_ort_ms"}
    lines = ["| " + " | ".join(columns + list(speedups)) + " |", "|" + "---|" * (len(columns) + len(speedups))]
    lines += ["| " + " | ".join([str(r[c]) for c in columns] +
                                [f"{rows[0][k] / r[k]:.2f}x" for k in speedups.values()]) + " |" for r in rows]
    atomic_write_text(out / "sweep.md", "\n".join(lines) + "\n")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "sweep.csv", buffer.getvalue())
    atomic_write_text(out / "sweep.json", json.dumps(rows, indent=2) + "\n")
    _plot(out / "sweep.png", rows, metric)


def _plot(path: Path, rows: list[dict], metric: str) -> None:
    labelled_scatter(path, [r["int8_ort_ms"] for r in rows], [r[metric] for r in rows],
                     [f"{r['heads']}h/{r['ffn']}f" for r in rows], "single-query latency, int8 ONNX Runtime (ms, median)",
                     f"dev {metric}",
                     "Structured pruning: latency vs accuracy")
