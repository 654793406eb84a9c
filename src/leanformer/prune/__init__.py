"""Structured pruning: importance scores, physical removal of heads and FFN neurons, re-distillation."""

from leanformer.prune.pruner import PruneConfig, prune

__all__ = ["PruneConfig", "prune"]
