"""Knowledge distillation: task-specific (soft targets, optional TinyBERT losses), any student."""

from leanformer.distill.distiller import DistillConfig, DistillationLoss, distill

__all__ = ["DistillConfig", "DistillationLoss", "distill"]
