"""Task metrics and throughput of a model on a split (``leanformer evaluate``)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from leanformer.errors import LeanformerError
from leanformer.runtime.predictor import Predictor
from leanformer.tasks import task_for
from leanformer.utils.cpu import physical_cores
from leanformer.utils.paths import atomic_write_text, check_output_file
from leanformer.utils.progress import ProgressBar


@dataclass
class EvalConfig:
    model: str
    split: str = "dev"
    #: evaluate on the first N examples only (quick checks)
    limit: int | None = None
    batch_size: int = 64
    #: None: the model's own input length (its manifest)
    max_length: int | None = None
    bf16: bool = False
    #: override where the task reads its data (default: as recorded in the model's manifest)
    data_dir: str | None = None
    threads: int | None = None
    #: also write predictions here as jsonl, in the task's submission format (SuperGLUE's for SuperGLUE tasks)
    predictions: str | None = None
    #: replace an existing predictions file
    overwrite: bool = False


def evaluate(cfg: EvalConfig) -> dict:
    """Task metrics on a split plus examples/s, for PyTorch or exported ONNX models; fp32 unless ``bf16``."""
    if cfg.predictions:
        check_output_file(cfg.predictions, [cfg.model, cfg.data_dir], cfg.overwrite)
    predictor = Predictor(cfg.model, threads=cfg.threads or physical_cores(), batch_size=cfg.batch_size,
                          max_length=cfg.max_length, bf16=cfg.bf16)
    task = task_for(predictor.manifest.task, cfg.data_dir)
    examples = task.examples(cfg.split)[: cfg.limit]
    labelled = all(ex.label is not None for ex in examples)
    if not labelled and not cfg.predictions:
        raise LeanformerError(f"split '{cfg.split}' has no labels, so there is nothing to score; "
                              "pass --predictions FILE to write predictions instead")
    start = time.perf_counter()
    with ProgressBar(len(examples), f"evaluate {cfg.split}") as bar:
        logits = predictor.logits(examples, bar.advance)
    seconds = time.perf_counter() - start
    metrics = task.compute_metrics(examples, logits) if labelled else None
    if cfg.predictions:
        records = task.submission(examples, logits)
        atomic_write_text(cfg.predictions, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    backend = predictor.manifest.onnx.precision if predictor.manifest.onnx else (
        "bf16" if cfg.bf16 else "fp32")
    return {"model": str(cfg.model), "task": task.name, "split": cfg.split, "examples": len(examples),
            "metrics": metrics, "seconds": round(seconds, 3), "examples_per_second": round(len(examples) / seconds, 2),
            "precision": backend, "runtime": "onnxruntime" if predictor.manifest.onnx_file else "pytorch",
            "threads": cfg.threads or physical_cores()}
