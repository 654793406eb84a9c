"""Approximate computing (AxFormer): significance analysis, accuracy-driven removal, approximate attention."""

from leanformer.approx.greedy import ApproximateConfig, approximate
from leanformer.approx.precision import MixedPrecisionConfig, mixed_precision
from leanformer.approx.significance import AnalyzeConfig, analyze

__all__ = ["AnalyzeConfig", "ApproximateConfig", "MixedPrecisionConfig", "analyze", "approximate", "mixed_precision"]
