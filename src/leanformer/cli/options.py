"""Command-line options shared by every training command, generated from :class:`TrainOptions`.

``@with_train_options`` appends one flag per field of the config class (name, default and help come
from the field itself, see ``training.options.option``) to a command's signature and hands the command
their values as one ``options`` dict, so ``train``, ``distill`` and ``prune`` stay in step and a new
field cannot be forgotten.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from typing import Annotated

import typer

from leanformer.training.options import TrainOptions


def _parameters(cls=TrainOptions) -> list[inspect.Parameter]:
    hints = typing.get_type_hints(cls)
    # help and flag come from TrainOptions; a workflow's config may only change the default (distil: lr 1e-4)
    shared = {f.name: f.metadata for f in dataclasses.fields(TrainOptions)}
    params = []
    for f in dataclasses.fields(cls):
        meta = shared.get(f.name)
        if meta is None or not meta.get("cli", True):
            continue
        option = typer.Option(*([meta["flag"]] if meta.get("flag") else []), help=meta["help"])
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                        annotation=Annotated[hints[f.name], option]))
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
