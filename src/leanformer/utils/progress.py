"""Progress reporting that works both on a terminal (rich bar) and in a log file (periodic lines)."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn, TransferSpeedColumn)

console = Console(stderr=True, soft_wrap=True)


class ProgressBar:
    """A progress bar with a free-form status text (loss, throughput).

    On a terminal it is a rich live bar; otherwise (``nohup ... > log``) it prints one line
    every ``log_every`` seconds so long jobs stay observable from their log. ``unit="bytes"`` shows
    sizes and a transfer speed. ``done``: items finished before this run (a resumed job); they count toward
    the total but not toward the rate the time left is projected from.
    """

    def __init__(self, total: int, description: str, log_every: float = 30.0, enabled: bool = True,
                 unit: str = "items", done: int = 0):
        self.total, self.description, self.log_every, self.unit = total, description, log_every, unit
        self.done, self._resumed_at, self.status = done, done, ""
        self._interactive = enabled and console.is_terminal
        self._quiet = not enabled
        self._last_log = time.monotonic()
        self._start = time.monotonic()
        self._progress = None

    def __enter__(self) -> "ProgressBar":
        if self._interactive:
            count = (DownloadColumn(), TransferSpeedColumn()) if self.unit == "bytes" else (MofNCompleteColumn(),)
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), *count,
                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[status]}"),
                console=console, transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.description, total=self.total, completed=self.done, status="")
        return self

    def advance(self, n: int = 1, status: str | None = None) -> None:
        self.done += n
        if status is not None:
            self.status = status
        if self._progress is not None:
            self._progress.update(self._task, advance=n, status=self.status)
        elif not self._quiet and time.monotonic() - self._last_log >= self.log_every:
            self._last_log = time.monotonic()
            self._log_line()

    def _log_line(self) -> None:
        elapsed = time.monotonic() - self._start
        done = f"{self.done / 1e6:.0f}/{self.total / 1e6:.0f} MB" if self.unit == "bytes" else f"{self.done}/{self.total}"
        # the rate so far, projected over what is left: a log reader sees when a long job should end
        ran = self.done - self._resumed_at
        eta = f" eta {_clock(elapsed / ran * (self.total - self.done))}" if 0 < ran and self.done < self.total else ""
        print(f"[{self.description}] {done} {elapsed:.0f}s{eta} {self.status}", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
        elif not self._quiet:
            self._log_line()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def info(message: str) -> None:
    """A status message for the user, on stderr so stdout stays machine-readable."""
    console.print(message, highlight=False)


@contextmanager
def quiet_logging(level: int = logging.WARNING):
    """Silence library log records up to ``level`` inside the block (third-party chatter users cannot act on)."""
    previous = logging.root.manager.disable
    logging.disable(level)
    try:
        yield
    finally:
        logging.disable(previous)
