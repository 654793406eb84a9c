"""Knobs every training run shares (fine-tuning, distillation, re-distillation after pruning)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(kw_only=True)
class TrainOptions:
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 3e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    max_length: int = 128
    seed: int = 42
    #: bf16 autocast; None = on where the CPU supports bf16 natively
    bf16: bool | None = None
    #: train on a random subset of this many training examples
    train_limit: int | None = None
    #: evaluate on the first N dev/test examples only
    eval_limit: int | None = None
    eval_batch_size: int = 64
    #: save a resumable checkpoint every N optimizer steps
    checkpoint_every: int = 200
    #: continue from the checkpoint in ``<output_dir>.work`` if there is one
    resume: bool = False
    #: replace an earlier leanformer output at the output path (never a directory holding anything else)
    overwrite: bool = False
    threads: int | None = None
    show_progress: bool = True

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
