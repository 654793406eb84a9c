"""Reading and writing leanformer's ONNX model directories (model.onnx + tokenizer + config + manifest)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from leanformer.errors import LeanformerError
from leanformer.models import Manifest
from leanformer.utils.paths import atomic_dir

#: files an ONNX model directory carries besides the graph
SIDE_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
              "vocab.json", "merges.txt", "sentencepiece.bpe.model", "spiece.model")


def read_onnx_model(model_dir: str | Path) -> tuple[Path, Manifest]:
    """The graph file and manifest of an exported model, with a clear error for anything else."""
    manifest = Manifest.read(model_dir)
    if manifest is None or not manifest.onnx_file:
        raise LeanformerError(f"{model_dir}: not an exported leanformer ONNX model; run `leanformer export` first")
    path = Path(model_dir) / manifest.onnx_file
    if not path.is_file():
        raise LeanformerError(f"{model_dir}: the manifest names {manifest.onnx_file}, which is missing")
    return path, manifest


def write_onnx_model(source_dir: str | Path, output_dir: str | Path, build, manifest: Manifest) -> None:
    """Atomically write ``output_dir``: ``build(path)`` writes the graph; side files come from ``source_dir``."""
    with atomic_dir(output_dir) as tmp:
        build(tmp / manifest.onnx.file)
        for name in SIDE_FILES:
            if (Path(source_dir) / name).is_file():
                shutil.copy2(Path(source_dir) / name, tmp / name)
        manifest.write(tmp)


def with_graph(manifest: Manifest, **changes) -> Manifest:
    """``manifest`` with its ONNX graph section changed (precision, quantization, provider)."""
    return dataclasses.replace(manifest, onnx=dataclasses.replace(manifest.onnx, **changes))


def layer_norm_apart(manifest: Manifest) -> bool:
    """Whether the export kept skip-LayerNorm unfused because that measured faster (``runtime.kernels``)."""
    export = next((step for step in reversed(manifest.lineage) if step.get("step") == "export"), {})
    return not ((export.get("kernels_measured") or {}).get("skip_layer_norm") or {}).get("fuse", True)
