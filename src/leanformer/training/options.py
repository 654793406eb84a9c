"""Knobs every training run shares (fine-tuning, distillation, re-distillation after pruning)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(kw_only=True)
class TrainOptions:
    #: None: 3, or 10 when the training set has fewer than 2,000 examples (small sets need more passes)
    epochs: int | None = None
    batch_size: int = 32
    #: None: by model width (narrow models need larger steps; 3e-5 leaves a 384-wide MiniLM at the majority class)
    learning_rate: float | None = None
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    #: None: the input model's own (its manifest), else 128
    max_length: int | None = None
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


#: (largest hidden size, learning rate): the defaults that learned on small entailment sets here
LEARNING_RATES = ((384, 1e-4), (512, 5e-5), (768, 3e-5))
SMALL_TRAINING_SET = 2000


def resolve_defaults(options: TrainOptions, hidden_size: int, train_examples: int, max_length: int) -> TrainOptions:
    """A copy with the epochs, learning rate and input length left open filled in for this model and data."""
    epochs = options.epochs or (10 if train_examples < SMALL_TRAINING_SET else 3)
    rate = options.learning_rate or next((lr for width, lr in LEARNING_RATES if hidden_size <= width), 1e-5)
    return dataclasses.replace(options, epochs=epochs, learning_rate=rate, max_length=options.max_length or max_length)
