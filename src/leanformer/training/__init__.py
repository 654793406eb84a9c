"""Fine-tuning: batching with dynamic padding, numerics, and the resumable training loop."""

from leanformer.training.trainer import TrainConfig, train

__all__ = ["TrainConfig", "train"]
