"""Command-line options shared by every training command, declared once.

``@with_train_options`` appends the :class:`TrainOptions` flags to a command's signature and hands
the command their values as one ``options`` dict, so ``train`` and ``distill`` stay in step.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from typing import Annotated, Optional

import typer

from leanformer.training.options import TrainOptions

_HELP = {
    "epochs": (Optional[int], "Passes over the training data (default: 3, or 10 below 2,000 training examples)."),
    "batch_size": (int, "Examples per optimizer step."),
    "learning_rate": (Optional[float], "Peak learning rate, linear warm-up then decay (default: by model width, 1e-4 for hidden 384 down to 1e-5 above 768)."),
    "weight_decay": (float, "AdamW weight decay (not on biases and LayerNorm)."),
    "warmup_ratio": (float, "Fraction of steps spent warming up the learning rate."),
    "max_grad_norm": (float, "Clip gradients to this norm."),
    "max_length": (Optional[int], "Truncate inputs to this many tokens (default: the input model's own, else 128)."),
    "seed": (int, "Seed for initialisation, data order and dropout."),
    "train_limit": (Optional[int], "Train on a random subset of this many examples."),
    "eval_limit": (Optional[int], "Evaluate on the first N dev/test examples only."),
    "eval_batch_size": (int, "Batch size for evaluation."),
    "checkpoint_every": (int, "Save a resumable checkpoint every N steps."),
    "threads": (Optional[int], "Intra-op threads (default: physical cores)."),
}
_FLAGS = {
    "bf16": (Optional[bool], typer.Option("--bf16/--fp32", help="Numerics for training (default: bf16 autocast where the CPU supports it).")),
    "resume": (bool, typer.Option("--resume", help="Continue the unfinished run in OUTPUT.work, if there is one.")),
    "overwrite": (bool, typer.Option("--overwrite", help="Replace an earlier leanformer output at OUTPUT (never a directory holding anything else).")),
}
_CLI_NAMES = {"learning_rate": "--lr"}


def _parameters(cls=TrainOptions, **overrides) -> list[inspect.Parameter]:
    params = []
    for f in dataclasses.fields(cls):
        if f.name == "show_progress" or f.name not in {**_HELP, **_FLAGS}:
            continue
        if f.name in _FLAGS:
            kind, option = _FLAGS[f.name]
        else:
            kind, text = _HELP[f.name]
            names = [_CLI_NAMES[f.name]] if f.name in _CLI_NAMES else []
            option = typer.Option(*names, help=text)
        default = overrides.get(f.name, f.default)
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=Annotated[kind, option]))
    return params


def with_train_options(config_cls=TrainOptions):
    """Decorate a command taking ``options: dict``; defaults come from ``config_cls``'s fields."""
    def decorate(fn):
        extra = _parameters(config_cls)
        names = {p.name for p in extra}
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn, include_extras=True)  # resolve string annotations in fn's module
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name])
               for p in sig.parameters.values() if p.name != "options"]

        @functools.wraps(fn)
        def wrapper(**kwargs):
            options = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
            return fn(options=options, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=own + extra)
        wrapper.__annotations__ = {p.name: p.annotation for p in own + extra}
        return wrapper
    return decorate
