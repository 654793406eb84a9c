"""The report's arithmetic: speed-ups and the price of 100 million queries."""

from __future__ import annotations

from dataclasses import dataclass

QUERIES = 100_000_000


@dataclass(frozen=True)
class Price:
    """An hourly machine price, prorated to the cores the benchmark uses.

    The default is the FastFormers paper's Azure F16s_v2 (16 vCPUs) at USD 0.677/h; running on fewer
    cores costs that share of it.
    """

    usd_per_hour: float = 0.677
    machine_cores: int = 16
    name: str = "Azure F16s_v2"

    def per_hour(self, cores_used: int) -> float:
        return self.usd_per_hour * cores_used / self.machine_cores


def usd_per_100m(seconds: float, queries: int, price: Price, cores_used: int) -> float:
    """Cost of 100M queries at the measured rate: ``seconds`` for ``queries`` queries on ``cores_used`` cores."""
    return seconds / queries * QUERIES / 3600.0 * price.per_hour(cores_used)


def speedups(seconds: list[float]) -> tuple[list[float], list[float]]:
    """Cumulative speed-up against the first row and step speed-up against the previous row."""
    cumulative = [seconds[0] / s for s in seconds]
    step = [1.0] + [a / b for a, b in zip(seconds, seconds[1:])]
    return cumulative, step
