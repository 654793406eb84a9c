"""Serving-side inference: ONNX Runtime sessions, the Predictor, multi-instance workers."""

from leanformer.runtime.multi_instance import MultiInstancePredictor
from leanformer.runtime.predictor import Predictor, PredictorConfig

__all__ = ["MultiInstancePredictor", "Predictor", "PredictorConfig"]
