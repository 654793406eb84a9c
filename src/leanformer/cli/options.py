"""Command-line options generated from config dataclasses: each field's name, default and help live once.

``@with_config_options(DistillConfig)`` appends one flag per documented field of the config (see
``utils.config.option``; a field a subclass only re-defaults keeps its parent's help) to a command's
signature and hands the command their values as one ``options`` dict, so a new field cannot be
forgotten and ``train``, ``distill`` and ``prune`` stay in step. A field whose type is itself a
config (``TrainConfig.task``) contributes its own fields' flags and arrives built.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from typing import Annotated, Optional

import typer
from rich.markup import escape


def _metadata(cls, name: str):
    """The documented field ``name`` in ``cls`` or the nearest dataclass it derives from."""
    for klass in cls.__mro__:
        if dataclasses.is_dataclass(klass):
            for f in dataclasses.fields(klass):
                if f.name == name and f.metadata.get("help"):
                    return f.metadata
    return None


def _flags(cls, overrides: bool) -> list[tuple[inspect.Parameter, object, str | None]]:
    """(parameter, parse, section): one flag per documented field; ``section`` names the nested config."""
    hints = typing.get_type_hints(cls)
    flags = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            flags += [(p, parse, f.name) for p, parse, _ in _flags(hints[f.name], overrides)]
            continue
        meta = _metadata(cls, f.name)
        if meta is None or not meta.get("cli", True):
            continue
        parse = meta.get("parse")
        annotation = Optional[str] if parse else hints[f.name]
        if overrides or parse:  # an absent flag passes nothing: the field's default (or the preset's) holds
            default = None
        elif f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: a field with a default factory needs parse= to be an option")
        else:
            default = ... if f.default is dataclasses.MISSING else f.default  # ...: required
        if overrides:
            annotation = Optional[annotation]
        flags.append((inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=Annotated[annotation, typer.Option(
                                            *meta.get("flags", ()),
                                            # escaped: "pip install 'leanformer[ray]'" is not a style tag
                                            help=escape(meta["help"]() if callable(meta["help"]) else meta["help"]))]),
                      parse, None))
    return flags


def with_config_options(config_cls, overrides: bool = False):
    """Decorate a command taking ``options: dict``; its flags are ``config_cls``'s documented fields.

    ``overrides``: every flag is optional and only the flags given reach ``options``, a nested config's as a
    dict of its given fields (for configs whose defaults come from elsewhere, like the recipe's presets).
    """
    def decorate(fn):
        flags = _flags(config_cls, overrides)
        sections = {section: typing.get_type_hints(config_cls)[section] for _, _, section in flags if section}
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn, include_extras=True)  # resolve string annotations in fn's module
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name])
               for p in sig.parameters.values() if p.name != "options"]
        extra = [p for p, _, _ in flags]

        @functools.wraps(fn)
        def wrapper(**kwargs):
            options: dict = {}
            nested: dict = {name: {} for name in sections}
            for param, parse, section in flags:
                value = kwargs.pop(param.name)
                if (parse or overrides) and value is None:
                    continue
                (nested[section] if section else options)[param.name] = parse(value) if parse else value
            for name, cls in sections.items():
                if not overrides:
                    options[name] = cls(**nested[name])
                elif nested[name]:  # only the fields given: the config's own (a preset's) fill in the rest
                    options[name] = nested[name]
            return fn(options=options, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=own + extra)
        wrapper.__annotations__ = {p.name: p.annotation for p in own + extra}
        return wrapper
    return decorate
