"""Serving-side inference: ONNX Runtime sessions, the Predictor, multi-instance workers."""

from leanformer.runtime.predictor import Predictor

__all__ = ["Predictor"]
