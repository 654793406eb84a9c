"""Single-query latency of a PyTorch model or a leanformer Predictor, on the same pre-tokenised queries."""

from __future__ import annotations

import torch

from leanformer.data.features import collate
from leanformer.utils.timing import time_queries


@torch.inference_mode()
def torch_latency(model: torch.nn.Module, features: list[list[dict]], pad_id: int, multiple_choice: bool,
                  warmup: int = 10, repeats: int = 1) -> dict:
    """Single-query latency of a PyTorch model on pre-tokenised examples (no padding: batch of one)."""
    model.eval()
    inputs = [collate([f], pad_id, multiple_choice) for f in features]
    return time_queries(lambda i: model(**inputs[i]), len(inputs), warmup, repeats)


def predictor_latency(predictor, examples: list, warmup: int = 10, repeats: int = 1) -> dict:
    """Single-query latency of a ``leanformer.runtime.Predictor`` (ONNX Runtime or PyTorch) on task examples."""
    features = predictor.inputs.features(examples)
    return time_queries(lambda i: predictor.run_batch([features[i]]), len(features), warmup, repeats)
