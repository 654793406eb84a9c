"""ONNX Runtime sessions with leanformer's defaults: all graph optimisations, explicit thread counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from leanformer.errors import LeanformerError
from leanformer.runtime.kernels import SKIP_LAYER_NORM_FUSION


def make_session(path: str | Path, threads: int | None = None, provider: str = "CPUExecutionProvider",
                 layer_norm_apart: bool = False):
    """``layer_norm_apart``: the export left skip-LayerNorm unfused by measurement; ONNX Runtime must not fuse
    it back when loading (CPU)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if provider not in ort.get_available_providers():
        raise LeanformerError(f"ONNX Runtime provider {provider} is not available here "
                              f"(available: {', '.join(ort.get_available_providers())})")
    try:
        disabled = [SKIP_LAYER_NORM_FUSION] if layer_norm_apart and provider == "CPUExecutionProvider" else None
        return ort.InferenceSession(str(path), options, providers=[provider], disabled_optimizers=disabled)
    except Exception as e:  # ORT raises its own exception types for unreadable or invalid models
        raise LeanformerError(f"{path}: ONNX Runtime cannot load this model ({str(e).splitlines()[0]})") from None


def session_inputs(session, batch: dict) -> dict[str, np.ndarray]:
    """Feed only the inputs the graph declares (e.g. no token_type_ids for RoBERTa), as int64."""
    names = {i.name for i in session.get_inputs()}
    return {k: np.asarray(v, dtype=np.int64) for k, v in batch.items() if k in names}
