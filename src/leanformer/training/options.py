"""Knobs every training run shares (fine-tuning, distillation, re-distillation after pruning)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from leanformer.utils.config import option


@dataclass(kw_only=True)
class TrainOptions:
    epochs: int | None = option(None, "Passes over the training data (default: 3, or 10 below 2,000 training "
                                      "examples: small sets need more passes).")
    batch_size: int = option(32, "Examples per optimizer step.")
    learning_rate: float | None = option(None, "Peak learning rate, linear warm-up then decay (default: by model "
                                               "width, 1e-4 for hidden 384 down to 1e-5 above 768).", flags=("--lr",))
    weight_decay: float = option(0.01, "AdamW weight decay (not on biases and LayerNorm).")
    warmup_ratio: float = option(0.06, "Fraction of steps spent warming up the learning rate.")
    max_grad_norm: float = option(1.0, "Clip gradients to this norm.")
    max_length: int | None = option(None, "Truncate inputs to this many tokens (default: the input model's own, "
                                          "else 128).")
    seed: int = option(42, "Seed for initialisation, data order and dropout.")
    bf16: bool | None = option(None, "Numerics for training (default: bf16 autocast where the device supports it).",
                               flags=("--bf16/--fp32",))
    device: str = option("auto", "Where to train and evaluate: cpu, cuda, cuda:N, or auto (the GPU where there is "
                                 "one).")
    train_limit: int | None = option(None, "Train on a random subset of this many examples.")
    eval_limit: int | None = option(None, "Evaluate on the first N dev/test examples only.")
    eval_batch_size: int = option(64, "Batch size for evaluation.")
    checkpoint_every: int = option(200, "Save a resumable checkpoint every N optimizer steps.")
    checkpoint_minutes: float = option(10.0, "Also save one when this many minutes have passed since the "
                                             "last: a stop loses at most this much (200 steps of a base model can "
                                             "take an hour on 2 cores).")
    resume: bool = option(False, "Continue the unfinished run in OUTPUT.work, if there is one.", flags=("--resume",))
    overwrite: bool = option(False, "Replace an earlier leanformer output at OUTPUT (never a directory holding "
                                    "anything else).", flags=("--overwrite",))
    threads: int | None = option(None, "Intra-op CPU threads (default: physical cores).")
    show_progress: bool = option(True, "Progress bars on a terminal, periodic lines in a log.", cli=False)

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
