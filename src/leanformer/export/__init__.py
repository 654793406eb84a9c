"""ONNX export with parity checks, and ONNX Runtime graph fusion."""

from leanformer.export.exporter import ExportConfig, export_model

__all__ = ["ExportConfig", "export_model"]
