"""OpenVINO as a runtime for exported models (an optional extra: ``pip install 'leanformer[openvino]'``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from leanformer.utils.cpu import physical_cores
from leanformer.utils.extras import import_extra


def import_openvino():
    return import_extra("openvino", "OpenVINO", "the OpenVINO backend")


class OpenVinoBackend:
    """A compiled OpenVINO model on the CPU, with an explicit thread count."""

    def __init__(self, path: str | Path, threads: int | None):
        ov = import_openvino()
        core = ov.Core()
        model = core.read_model(str(path))
        self.names = {i.get_any_name() for i in model.inputs}
        # on CPUs with AMX, OpenVINO runs float parts in bf16 unless told otherwise: an int8 model then answered
        # differently from the fp32 model it was checked against (82.5% agreement on the toy model, 100% in f32)
        self.compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": threads or physical_cores(),
                                                          "PERFORMANCE_HINT": "LATENCY",
                                                          "INFERENCE_PRECISION_HINT": "f32"})
        self.request = self.compiled.create_infer_request()

    def __call__(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        inputs = {k: np.asarray(v, dtype=np.int64) for k, v in batch.items() if k in self.names}
        return self.request.infer(inputs)[0].copy()
