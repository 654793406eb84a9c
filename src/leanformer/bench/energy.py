"""Energy of a measured run: RAPL counters when the kernel exposes them, else a labelled estimate."""

from __future__ import annotations

import glob
import os
import resource
from pathlib import Path

RAPL_GLOB = "/sys/class/powercap/*rapl*:[0-9]*/energy_uj"


def _rapl_files() -> list[Path]:
    files = []
    for f in sorted(glob.glob(RAPL_GLOB)):
        path = Path(f)
        if path.parent.name.count(":") == 1 and os.access(path, os.R_OK):  # packages, not their sub-zones
            files.append(path)
    return files


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, from /proc (fields 14 and 15 of its stat line)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pids: list[int]) -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime + sum(_process_cpu_seconds(p) for p in pids)


class EnergyMeter:
    """Context manager: ``joules`` and ``source`` ("rapl" or "estimate: ...") after the block.

    The estimate is CPU seconds (this process and the live worker processes ``pids``) times
    ``watts_per_core``.
    """

    def __init__(self, watts_per_core: float = 10.0, pids: list[int] | None = None):
        self.watts_per_core, self.pids = watts_per_core, list(pids or [])
        self.files = _rapl_files()
        self.joules, self.source = 0.0, ""

    def _read(self) -> list[int]:
        return [int(f.read_text()) for f in self.files]

    def __enter__(self) -> "EnergyMeter":
        self._cpu = _cpu_seconds(self.pids)
        self._rapl = self._read() if self.files else None
        return self

    def __exit__(self, *exc) -> None:
        if self._rapl is not None:
            ranges = [int((f.parent / "max_energy_range_uj").read_text()) for f in self.files]
            deltas = [(b - a) % r for a, b, r in zip(self._rapl, self._read(), ranges)]
            self.joules, self.source = sum(deltas) / 1e6, "rapl"
        else:
            cpu = _cpu_seconds(self.pids) - self._cpu
            self.joules = cpu * self.watts_per_core
            self.source = f"estimate: {cpu:.1f} CPU-s x {self.watts_per_core:g} W/core"
