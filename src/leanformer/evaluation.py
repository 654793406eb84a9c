"""Task metrics and throughput of a model on a split (``leanformer evaluate``)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from leanformer.errors import LeanformerError
from leanformer.runtime.predictor import Predictor
from leanformer.tasks import task_for
from leanformer.utils.config import DATA_DIR_HELP, MAX_LENGTH_HELP, option
from leanformer.utils.cpu import physical_cores
from leanformer.utils.paths import atomic_write_text, check_output_file
from leanformer.utils.progress import ProgressBar


@dataclass
class EvalConfig:
    model: str = option(help="A leanformer model directory (PyTorch or ONNX).", flags=("--model", "-m"))
    split: str = option("dev", "train, dev or test.")
    limit: int | None = option(None, "Only the first N examples (quick checks).")
    batch_size: int = option(64, "Examples per batch.")
    max_length: int | None = option(None, MAX_LENGTH_HELP)
    bf16: bool = option(False, "Numerics for inference (PyTorch models).", flags=("--bf16/--fp32",))
    data_dir: str | None = option(None, DATA_DIR_HELP)
    threads: int | None = option(None, "Intra-op threads (default: physical cores).")
    predictions: str | None = option(None, "Also write predictions to this jsonl file (SuperGLUE's submission format "
                                           "for SuperGLUE tasks); works on unlabelled splits.")
    overwrite: bool = option(False, "Replace an existing predictions file.", flags=("--overwrite",))


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
