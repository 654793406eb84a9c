"""Measuring a pruning sweep: size, dev metric and single-query latency of each model, as a table and a plot.

Every model is timed on the same single queries at their own length, in PyTorch fp32 and in the int8
ONNX Runtime path (FastFormers' Figure 2).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from leanformer.bench.latency import predictor_latency, torch_latency
from leanformer.data.features import encode
from leanformer.models import count_parameters, load_model
from leanformer.models.structure import current_structure
from leanformer.quantize import export_int8
from leanformer.runtime.predictor import Predictor
from leanformer.utils.cpu import physical_cores
from leanformer.utils.paths import atomic_write_text
from leanformer.utils.plots import labelled_scatter


def measure_model(name: str, model_dir: Path | str, task, metrics: dict, examples: list, work: Path,
                  max_length: int, threads: int | None = None, data_dir: str | None = None) -> dict:
    """Size, dev metric, and single-query latency in PyTorch fp32 and in the int8 ONNX Runtime path."""
    model, tokenizer, _ = load_model(model_dir)
    latency = torch_latency(model, encode(examples, tokenizer, max_length), tokenizer.pad_token_id,
                            task.multiple_choice)
    int8 = export_int8(str(model_dir), work, name, data_dir=data_dir)
    predictor = Predictor(int8, threads=threads or physical_cores(), sort_by_length=False, max_length=max_length)
    structure = current_structure(model)
    return {"model": name, "heads": structure["heads_per_layer"][0], "ffn": structure["ffn_per_layer"][0],
            "parameters": count_parameters(model), "latency_ms": round(latency["median_ms"], 3),
            "int8_ort_ms": round(predictor_latency(predictor, examples)["median_ms"], 3),
            task.primary_metric: round(metrics["dev"][task.primary_metric], 4)}


def write_sweep(out: Path, rows: list[dict], metric: str) -> None:
    """``sweep.md`` (with speed-ups over the first row), ``.csv``, ``.json`` and the ``sweep.png`` plot."""
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
    labelled_scatter(out / "sweep.png", [r["int8_ort_ms"] for r in rows], [r[metric] for r in rows],
                     [f"{r['heads']}h/{r['ffn']}f" for r in rows], "single-query latency, int8 ONNX Runtime (ms, median)",
                     f"dev {metric}", "Structured pruning: latency vs accuracy")
