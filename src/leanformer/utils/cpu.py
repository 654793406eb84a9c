"""What this CPU offers: native bf16 (AMX or AVX512-BF16) for autocast, and its physical cores."""

from __future__ import annotations

import os
from functools import lru_cache


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_bf16() -> bool:
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def core_cpus() -> list[int]:
    """One logical CPU per physical core this process may use (SMT siblings are left out)."""
    seen, cpus = set(), []
    for cpu in sorted(os.sched_getaffinity(0)):
        base = f"/sys/devices/system/cpu/cpu{cpu}/topology"
        try:
            with open(f"{base}/physical_package_id") as p, open(f"{base}/core_id") as c:
                core = (p.read().strip(), c.read().strip())
        except OSError:
            core = ("?", str(cpu))
        if core not in seen:
            seen.add(core)
            cpus.append(cpu)
    return cpus


def physical_cores() -> int:
    return max(1, len(core_cpus()))

