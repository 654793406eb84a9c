"""Config fields that carry their own command-line help: one place for an option's name, default and help."""

from __future__ import annotations

from dataclasses import MISSING, field


def option(default=MISSING, help: str = "", flags: tuple[str, ...] = (), cli: bool = True):
    """A dataclass field with its help text and, optionally, its command-line spelling (``flags``).

    ``cli=False`` keeps a field off the generated command line (a command declares it itself, for
    example because its text form needs parsing).
    """
    return field(default=default, metadata={"help": help, "flags": tuple(flags), "cli": cli})


#: help texts that several configs share
MAX_LENGTH_HELP = "Truncate inputs to this many tokens (default: the length the model was trained at)."
DATA_DIR_HELP = "Read the task's data from here instead of where the model's manifest says."
OVERWRITE_HELP = "Replace an earlier leanformer output at OUTPUT (never a directory holding anything else)."
