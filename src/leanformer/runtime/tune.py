"""Choosing instances x threads x batch size by measurement (``leanformer tune-instances``; FastFormers' Table 2)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from leanformer.errors import LeanformerError
from leanformer.models import Manifest
from leanformer.models.manifest import TunedInstances
from leanformer.runtime.multi_instance import MultiInstancePredictor
from leanformer.tasks import task_for
from leanformer.utils.cpu import physical_cores
from leanformer.utils.config import DATA_DIR_HELP, MAX_LENGTH_HELP, int_list, option
from leanformer.utils.progress import info


@dataclass
class TuneConfig:
    model: str = option(help="Model directory (ONNX or PyTorch).", flags=("--model", "-m"))
    examples: int = option(1000, "Dev examples pushed through each setting.")
    batch_sizes: list[int] = option(help="Comma-separated batch sizes to try (default: 1,8,32).",
                                    factory=lambda: [1, 8, 32], parse=int_list)
    save: bool = option(True, "Store the best setting in the model's manifest, where predict picks it up.",
                        flags=("--save/--no-save",))
    max_length: int | None = option(None, MAX_LENGTH_HELP)
    data_dir: str | None = option(None, DATA_DIR_HELP)


def settings(cores: int) -> list[tuple[int, int]]:
    """Every (instances, threads) with instances x threads <= physical cores."""
    return [(n, t) for n in range(1, cores + 1) for t in range(1, cores // n + 1)]


def tune_instances(cfg: TuneConfig) -> dict:
    manifest = Manifest.read(cfg.model)
    if manifest is None:
        raise LeanformerError(f"{cfg.model}: not a leanformer model (no leanformer.json); export or train one first")
    inputs = task_for(manifest.task, cfg.data_dir).examples("dev")[: cfg.examples]
    rows = []
    for instances, threads in settings(physical_cores()):
        # one pool per (instances, threads): workers run whatever batches they are given
        with MultiInstancePredictor(cfg.model, instances, threads=threads, max_length=cfg.max_length) as p:
            for batch_size in cfg.batch_sizes:
                p.logits(inputs[: min(len(inputs), 32)], batch_size=batch_size)  # warm-up
                start = time.perf_counter()
                p.logits(inputs, batch_size=batch_size)
                rate = round(len(inputs) / (time.perf_counter() - start), 2)
                rows.append({"instances": instances, "threads": threads, "batch_size": batch_size,
                             "examples_per_second": rate})
                info(f"tune: {instances} x {threads} threads, batch {batch_size}: {rate} ex/s")
    best = max(rows, key=lambda r: r["examples_per_second"])
    if cfg.save:
        updated = dataclasses.replace(manifest, tuned=TunedInstances(**best))
        updated.write(cfg.model)
    return {"model": cfg.model, "examples": len(inputs), "rows": rows, "best": best}
