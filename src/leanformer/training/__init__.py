"""Fine-tuning: batching with dynamic padding, numerics, and the resumable training loop."""

from leanformer.training.options import TrainOptions
from leanformer.training.trainer import TrainConfig, train

__all__ = ["TrainConfig", "TrainOptions", "train"]
