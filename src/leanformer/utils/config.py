"""Config fields that carry their own command-line help: one place for an option's name, default and help."""

from __future__ import annotations

from dataclasses import MISSING, field
from typing import Callable

from leanformer.errors import LeanformerError


def option(default=MISSING, help: str | Callable[[], str] = "", flags: tuple[str, ...] = (), cli: bool = True,
           parse: Callable[[str], object] | None = None, factory=MISSING):
    """A dataclass field with its help text and, optionally, its command-line spelling (``flags``).

    ``help`` may be a function, for text that lists something only known once everything is imported.
    ``parse`` turns the flag's text into the field's value (lists, counts-or-ratios): the command line
    then takes a string and passes nothing when the flag is absent, so the field's own default holds.
    ``factory`` is a default_factory. ``cli=False`` keeps a field off the generated command line.
    """
    return field(default=default, default_factory=factory,
                 metadata={"help": help, "flags": tuple(flags), "cli": cli, "parse": parse})


def int_list(text: str) -> list[int]:
    """'0,2,4' -> [0, 2, 4]."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise LeanformerError(f"expected comma-separated integers, got '{text}'") from None


def str_list(text: str) -> list[str]:
    """'a, b' -> ['a', 'b']."""
    return [s.strip() for s in text.split(",") if s.strip()]


#: help texts that several configs share
MAX_LENGTH_HELP = "Truncate inputs to this many tokens (default: the length the model was trained at)."
DATA_DIR_HELP = "Read the task's data from here instead of where the model's manifest says."
OVERWRITE_HELP = "Replace an earlier leanformer output at OUTPUT (never a directory holding anything else)."
