"""Predicting a whole data file (``leanformer predict``)."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

from leanformer.errors import LeanformerError
from leanformer.models import Manifest
from leanformer.runtime.multi_instance import MultiInstancePredictor
from leanformer.runtime.predictor import Predictor, PredictorConfig, labelled
from leanformer.tasks import task_for
from leanformer.utils.config import DATA_DIR_HELP, MAX_LENGTH_HELP, option
from leanformer.utils.paths import atomic_write_text, check_output_file
from leanformer.utils.progress import ProgressBar


@dataclass
class PredictConfig:
    model: str = option(help="Leanformer model directory (ONNX if exported, else PyTorch).", flags=("--model", "-m"))
    output: str = option(help="Predictions file: .jsonl (the task's submission format, SuperGLUE's for SuperGLUE "
                              "tasks) or .csv.", flags=("--output", "-o"))
    input: str | None = option(None, "A data file in the task's format (default: the task's --split).",
                               flags=("--input", "-i"))
    split: str = option("test", "The task's split to predict when no --input is given.")
    data_dir: str | None = option(None, DATA_DIR_HELP)
    batch_size: int = option(32, "Examples per batch.")
    sort_by_length: bool = option(True, "Batch inputs of similar length together (output order is kept).",
                                  flags=("--sort/--no-sort",))
    instances: int | None = option(None, "Worker processes (default: the tuned setting, else 1).")
    threads: int | None = option(None, "Threads per worker.")
    max_length: int | None = option(None, MAX_LENGTH_HELP)
    engine: str = option("local", "local (this machine's pinned workers) or ray (Ray Data over an actor pool; "
                                  "pip install 'leanformer[ray]').")
    ray_address: str | None = option(None, "Ray cluster address for --engine ray (default: a local Ray).")
    show_progress: bool = option(True, "Progress bar.", cli=False)
    overwrite: bool = option(False, "Replace an existing output file.", flags=("--overwrite",))


def predict_file(cfg: PredictConfig) -> dict:
    manifest = Manifest.read(cfg.model)
    if manifest is None:
        raise LeanformerError(f"{cfg.model}: not a leanformer model (no leanformer.json)")
    if Path(cfg.output).suffix not in (".jsonl", ".csv"):
        raise LeanformerError(f"output {cfg.output}: expected a .jsonl or .csv file name")
    if cfg.engine not in ("local", "ray"):
        raise LeanformerError(f"unknown engine '{cfg.engine}'; expected local or ray")
    check_output_file(cfg.output, [cfg.input, cfg.model, cfg.data_dir], cfg.overwrite)
    task = task_for(manifest.task, cfg.data_dir)
    examples = task.read_file(Path(cfg.input)) if cfg.input else task.examples(cfg.split)
    instances = cfg.instances or (manifest.tuned.instances if manifest.tuned else 1)
    threads = cfg.threads or (manifest.tuned.threads if manifest.tuned else None)
    start = time.perf_counter()
    with ProgressBar(len(examples), "predict", enabled=cfg.show_progress) as bar:
        if cfg.engine == "ray":
            from leanformer.runtime.ray_engine import ray_logits

            config = PredictorConfig(model=str(Path(cfg.model).resolve()), threads=threads or 1,
                                     batch_size=cfg.batch_size, sort_by_length=cfg.sort_by_length,
                                     max_length=cfg.max_length)
            logits = ray_logits(config, examples, instances, cfg.batch_size, cfg.ray_address, bar.advance)
        elif instances > 1:
            with MultiInstancePredictor(cfg.model, instances, threads=threads or 1, batch_size=cfg.batch_size,
                                        sort_by_length=cfg.sort_by_length, max_length=cfg.max_length) as p:
                logits = p.logits(examples, progress=bar.advance)
        else:
            logits = Predictor(cfg.model, threads=threads, batch_size=cfg.batch_size, sort_by_length=cfg.sort_by_length,
                               max_length=cfg.max_length).logits(
                examples, progress=bar.advance)
    seconds = time.perf_counter() - start
    if cfg.output.endswith(".csv"):
        if task.multiple_choice or any(ex.group for ex in examples):
            raise LeanformerError(f"task '{task.name}' predictions need the .jsonl submission format")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["idx", "label", *(f"p_{n}" for n in manifest.label_names)])
        for ex, row in zip(examples, labelled(logits, manifest)):
            writer.writerow([ex.meta.get("idx", ex.uid), row["label"], *row["probabilities"]])
        atomic_write_text(cfg.output, buffer.getvalue())
    else:
        atomic_write_text(cfg.output, "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                              for r in task.submission(examples, logits)))
    labelled_split = all(ex.label is not None for ex in examples)
    return {"output": cfg.output, "examples": len(examples), "instances": instances,
            "examples_per_second": round(len(examples) / seconds, 2),
            "metrics": task.compute_metrics(examples, logits) if labelled_split else None}
