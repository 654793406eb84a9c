"""Latency measurement: single queries at their own length, warm-up first, medians reported."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def time_queries(run_one: Callable[[int], object], n: int, warmup: int = 10, repeats: int = 1) -> dict:
    """Call ``run_one(i)`` for every query ``i < n``, ``repeats`` times after ``warmup`` untimed calls.

    Returns the median and 90th-percentile latency per query (ms) and the total time of one pass.
    """
    for i in range(min(warmup, n)):
        run_one(i)
    passes = []
    for _ in range(repeats):
        per_query = []
        for i in range(n):
            start = time.perf_counter()
            run_one(i)
            per_query.append(time.perf_counter() - start)
        passes.append(per_query)
    medians = [statistics.median(q[i] for q in passes) for i in range(n)]
    ordered = sorted(medians)
    return {"queries": n, "median_ms": 1000 * statistics.median(medians),
            "p90_ms": 1000 * ordered[min(n - 1, int(0.9 * n))], "total_s": sum(medians)}
