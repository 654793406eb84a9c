"""Recovering accuracy after a model's shape changed: distil the changed model from a teacher.

Shared by every method that removes parts of a model (pruning today, approximate computing next).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from leanformer.distill.distiller import DistillConfig, distill
from leanformer.models import Manifest, save_model
from leanformer.training.options import TrainOptions


def redistill(model, tokenizer, manifest: Manifest, output_dir: str | Path, teacher: str, options: TrainOptions,
              temperature: float = 2.0, alpha: float = 0.0, data_dir: str | None = None, hidden_weight: float = 0.0,
              attention_weight: float = 0.0, augment: int = 0, cache_internals: bool = False) -> dict:
    """Stage ``model`` beside ``output_dir``, distil it from ``teacher`` into ``output_dir``, remove the stage."""
    output_dir = Path(output_dir)
    staging = output_dir.with_name(f".{output_dir.name}.staged")
    save_model(model, tokenizer, manifest, staging)
    shared = {f.name: getattr(options, f.name) for f in dataclasses.fields(TrainOptions)}
    try:
        return distill(DistillConfig(**shared, teacher=teacher, student=str(staging), output_dir=str(output_dir),
                                     temperature=temperature, alpha=alpha, data_dir=data_dir,
                                     hidden_weight=hidden_weight, attention_weight=attention_weight,
                                     augment=augment, cache_internals=cache_internals))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
