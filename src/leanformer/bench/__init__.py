"""Measuring speed, accuracy, cost and energy side by side (``leanformer bench``)."""

from leanformer.bench.ablation import BenchConfig, run_bench

__all__ = ["BenchConfig", "run_bench"]
