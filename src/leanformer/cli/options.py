"""Command-line options generated from config dataclasses: each field's name, default and help live once.

``@with_config_options(DistillConfig)`` appends one flag per documented field of the config (see
``utils.config.option``; a field a subclass only re-defaults keeps its parent's help) to a command's
signature and hands the command their values as one ``options`` dict, so a new field cannot be
forgotten and ``train``, ``distill`` and ``prune`` stay in step.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from typing import Annotated

import typer


def _metadata(cls, name: str):
    """The documented field ``name`` in ``cls`` or the nearest dataclass it derives from."""
    for klass in cls.__mro__:
        if dataclasses.is_dataclass(klass):
            for f in dataclasses.fields(klass):
                if f.name == name and f.metadata.get("help"):
                    return f.metadata
    return None


def _parameters(cls) -> list[inspect.Parameter]:
    hints = typing.get_type_hints(cls)
    params = []
    for f in dataclasses.fields(cls):
        meta = _metadata(cls, f.name)
        if meta is None or not meta.get("cli", True):
            continue
        option = typer.Option(*meta.get("flags", ()), help=meta["help"])
        default = ... if f.default is dataclasses.MISSING else f.default  # ...: required
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=Annotated[hints[f.name], option]))
    return params


def with_config_options(config_cls):
    """Decorate a command taking ``options: dict``; its flags are ``config_cls``'s documented fields."""
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
