"""fp16 conversion of an exported model, for GPUs (ONNX Runtime's CUDA provider)."""

from __future__ import annotations

from dataclasses import dataclass

import onnx

from leanformer.errors import LeanformerError
from leanformer.runtime.onnx_model import read_onnx_model, with_graph, write_onnx_model
from leanformer.utils.paths import check_output


@dataclass
class Fp16Config:
    model: str
    output_dir: str
    #: replace an earlier leanformer output at ``output_dir`` (never a directory holding anything else)
    overwrite: bool = False


def convert_fp16(cfg: Fp16Config) -> dict:
    """Write an fp16 copy (inputs and logits keep their types, so callers need no change)."""
    from onnxruntime.transformers.onnx_model import OnnxModel

    check_output(cfg.output_dir, [cfg.model], cfg.overwrite)
    source, manifest = read_onnx_model(cfg.model)
    if manifest.onnx.precision != "fp32":
        raise LeanformerError(f"{cfg.model}: expected an fp32 ONNX model, found {manifest.onnx.precision}")

    def build(path):
        model = OnnxModel(onnx.load(str(source)))
        model.convert_float_to_float16(keep_io_types=True)
        model.save_model_to_file(str(path))

    new_manifest = with_graph(manifest, precision="fp16", provider="CUDAExecutionProvider").with_step(
        "quantize", source=str(cfg.model), variant="fp16")
    write_onnx_model(cfg.model, cfg.output_dir, build, new_manifest)
    return {"output_dir": cfg.output_dir, "precision": "fp16"}
