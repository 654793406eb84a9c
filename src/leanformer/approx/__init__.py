"""Approximate computing (AxFormer): significance analysis, accuracy-driven removal, approximate attention."""

from leanformer.approx.greedy import ApproximateConfig, approximate
from leanformer.approx.significance import AnalyzeConfig, analyze

__all__ = ["AnalyzeConfig", "ApproximateConfig", "analyze", "approximate"]
