"""Lower precision for the ONNX runtime: int8 dynamic quantization (CPU) and fp16 (GPU)."""

from leanformer.quantize.dynamic import QuantizeConfig, export_int8, quantize_model
from leanformer.quantize.fp16 import Fp16Config, convert_fp16

__all__ = ["Fp16Config", "QuantizeConfig", "convert_fp16", "export_int8", "quantize_model"]
