"""int8 dynamic quantization for CPU (``leanformer quantize``).

Weights get per-channel scales (per-tensor scales are known to wreck accuracy on these models);
activations get a per-tensor range computed at run time. Q.K^T and softmax stay in floating point:
a fused Attention becomes QAttention, which quantizes only its input projection. Which operator
variant is fastest depends on the CPU (VNNI and AMX favour signed int8 weights with unsigned
activations), so ``variant="auto"`` times each candidate here and records the timings in the
manifest as the reason for the choice.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import onnx

from leanformer.data.features import collate, encode
from leanformer.errors import LeanformerError
from leanformer.export import ExportConfig, export_model
from leanformer.models import Manifest
from leanformer.models.loading import load_tokenizer
from leanformer.quantize.backends import choose_backend
from leanformer.quantize.openvino import OpenVinoConfig, to_openvino
from leanformer.runtime.onnx_model import layer_norm_apart, read_onnx_model, with_graph, write_onnx_model
from leanformer.runtime.session import make_session, session_inputs
from leanformer.tasks import task_for
from leanformer.utils.config import DATA_DIR_HELP, MAX_LENGTH_HELP, OVERWRITE_HELP, int_list, option, str_list
from leanformer.utils.paths import check_output, scratch_dir
from leanformer.utils.progress import info, quiet_logging
from leanformer.utils.timing import time_queries

#: name -> (weight type, operators to quantize)
VARIANTS = {
    "s8": ("QInt8", ("MatMul", "Attention")),
    "s8-matmul-only": ("QInt8", ("MatMul",)),
    "u8": ("QUInt8", ("MatMul", "Attention")),
    "u8-matmul-only": ("QUInt8", ("MatMul",)),
}


@dataclass
class QuantizeConfig:
    model: str = option(help="Exported fp32 ONNX model directory.", flags=("--model", "-m"))
    output_dir: str = option(help="Directory for the quantized model.", flags=("--output", "-o"))
    variant: str = option("auto", "auto (time every operator variant on this CPU, keep the fastest), s8, "
                                  "s8-matmul-only, u8, u8-matmul-only.")
    exclude_nodes: list[str] = option(help="Comma-separated node names to keep in floating point.", factory=list,
                                      parse=str_list)
    exclude_layers: list[int] = option(help="Comma-separated layer indices (0-based) to keep in floating point.",
                                       factory=list, parse=int_list)
    backend: str = option("onnxruntime", "onnxruntime, openvino (NNCF int8; pip install 'leanformer[openvino]'), "
                                         "or auto: build both, time them at --timing-batch-size, keep the fastest "
                                         "whose predictions agree with fp32 on --min-agreement of the dev sample.")
    embeddings: bool = option(False, "Also store the embedding tables in int8 (most of a small model's file; "
                                     "check the accuracy it costs).", flags=("--embeddings/--no-embeddings",))
    int4_layers: list[int] = option(help="Comma-separated layer indices whose matrix weights are stored in 4 bits "
                                         "(block-wise, weight-only: a smaller file; check the accuracy it costs).",
                                    factory=list, parse=int_list)
    timing_examples: int = option(64, "Dev examples timed per variant (and per backend) when choosing.")
    timing_batch_size: int = option(1, "--backend auto: the batch size you will run (1 for single queries).")
    min_agreement: float = option(0.98, "--backend auto: least share of dev predictions equal to fp32's.")
    threads: int | None = option(None, "Threads used when timing variants.")
    max_length: int | None = option(None, MAX_LENGTH_HELP)
    data_dir: str | None = option(None, DATA_DIR_HELP)
    overwrite: bool = option(False, OVERWRITE_HELP, flags=("--overwrite",))


#: exported node names carry their layer: ``.../layer.3/...``
LAYER_IN_NAME = re.compile(r"layer[._](\d+)[./]")


def node_layer(name: str) -> int | None:
    """The transformer layer an exported node belongs to, from its name (None: outside the layers)."""
    match = LAYER_IN_NAME.search(name)
    return int(match.group(1)) if match else None


def excluded_nodes(model: onnx.ModelProto, names: list[str], layers: list[int]) -> list[str]:
    """Nodes to leave unquantized: the named ones, and every node of the listed layers.

    Exported node names carry their layer (``.../layer.3/...``); fused Attention nodes do not, so
    they are assigned to layers in graph order.
    """
    all_names = {n.name for n in model.graph.node}
    unknown = [n for n in names if n not in all_names]
    if unknown:
        raise LeanformerError(f"nodes to exclude not found in the graph: {', '.join(unknown)}")
    chosen = set(names)
    attention = [n.name for n in model.graph.node if n.op_type == "Attention"]
    for layer in layers:
        matched = {n.name for n in model.graph.node if node_layer(n.name) == layer}
        if layer < len(attention):
            matched.add(attention[layer])
        if not matched:
            raise LeanformerError(f"layer {layer} to exclude has no nodes in the graph")
        chosen |= matched
    return sorted(chosen)


def quantize_file(source: Path, target: Path, variant: str, exclude: list[str], embeddings: bool = False,
                  int4_layers: list[int] = ()) -> None:
    """int8 with per-channel weights; ``int4_layers`` first get 4-bit weights (those MatMuls then stay out of int8)."""
    if int4_layers:
        with tempfile.TemporaryDirectory() as tmp:
            staged = Path(tmp) / "int4.onnx"
            _int4_weights(source, staged, int4_layers)
            quantize_file(staged, target, variant, exclude, embeddings)
        return
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weight_type, ops = VARIANTS[variant]
    ops = (*ops, "EmbedLayerNormalization", "Gather") if embeddings else ops
    with quiet_logging():  # the quantizer suggests a pre-processing step that does not apply to dynamic int8
        quantize_dynamic(str(source), str(target), op_types_to_quantize=list(ops), per_channel=True,
                         reduce_range=False, weight_type=getattr(QuantType, weight_type),
                         nodes_to_exclude=exclude or None,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True})


#: 4-bit weights: one fp32 scale per block of this many input channels (symmetric, no zero points)
INT4_BLOCK = 32


def _int4_weights(source: Path, target: Path, layers: list[int]) -> None:
    """Store the weights of the listed layers' MatMuls in 4 bits (ONNX Runtime's MatMulNBits, fp32 compute)."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    model = onnx.load(str(source))
    weights = {i.name for i in model.graph.initializer}
    matmuls = [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    wanted = set(layers)
    chosen = {n.name for n in matmuls if node_layer(n.name) in wanted}
    missing = sorted(wanted - {node_layer(n) for n in chosen})
    if missing:
        raise LeanformerError(f"int4 layers {missing}: no matrix weights of these layers in the graph")
    quantizer = MatMulNBitsQuantizer(model, bits=4, block_size=INT4_BLOCK, is_symmetric=True,
                                     nodes_to_exclude=[n.name for n in matmuls if n.name not in chosen])
    with quiet_logging():
        quantizer.process()
    onnx.save(quantizer.model.model, str(target))


def _timing_inputs(model_dir: str, manifest, cfg: QuantizeConfig) -> list[dict]:
    tokenizer = load_tokenizer(model_dir)
    examples = task_for(manifest.task, cfg.data_dir).examples("dev")[: cfg.timing_examples]
    features = encode(examples, tokenizer, manifest.input_length(cfg.max_length))
    return [{k: v.numpy() for k, v in collate([f], tokenizer.pad_token_id, manifest.multiple_choice).items()}
            for f in features]


def quantize_model(cfg: QuantizeConfig) -> dict:
    """Write an int8 copy of an fp32 ONNX model, choosing the operator variant (and the backend) by measurement
    if asked."""
    if cfg.backend not in ("onnxruntime", "openvino", "auto"):
        raise LeanformerError(f"unknown backend '{cfg.backend}'; expected onnxruntime, openvino or auto")
    if cfg.backend == "auto":
        return choose_backend(cfg)
    if cfg.backend == "openvino":
        onnxruntime_only = [flag for flag, given in (("--variant", cfg.variant != "auto"),
                                                     ("--exclude-nodes", cfg.exclude_nodes),
                                                     ("--exclude-layers", cfg.exclude_layers),
                                                     ("--embeddings", cfg.embeddings),
                                                     ("--int4-layers", cfg.int4_layers)) if given]
        if onnxruntime_only:
            raise LeanformerError(f"{', '.join(onnxruntime_only)}: ONNX Runtime options; --backend openvino "
                                  "quantizes every layer with NNCF (drop them, or use --backend onnxruntime)")
        return to_openvino(OpenVinoConfig(model=cfg.model, output_dir=cfg.output_dir, max_length=cfg.max_length,
                                          data_dir=cfg.data_dir, overwrite=cfg.overwrite))
    check_output(cfg.output_dir, [cfg.model, cfg.data_dir], cfg.overwrite)
    source, manifest = read_onnx_model(cfg.model)
    if manifest.onnx.precision != "fp32":
        raise LeanformerError(f"{cfg.model}: expected an fp32 ONNX model, found {manifest.onnx.precision}")
    if cfg.variant != "auto" and cfg.variant not in VARIANTS:
        raise LeanformerError(f"unknown variant '{cfg.variant}'; expected auto or one of {', '.join(VARIANTS)}")
    both = sorted(set(cfg.exclude_layers) & set(cfg.int4_layers))
    if both:
        raise LeanformerError(f"layers {both} are both kept in floating point and stored in 4 bits; choose one")
    exclude = excluded_nodes(onnx.load(str(source)), cfg.exclude_nodes, cfg.exclude_layers)
    candidates = list(VARIANTS) if cfg.variant == "auto" else [cfg.variant]
    timings: dict[str, float] = {}
    with scratch_dir(cfg.output_dir) as scratch:
        if len(candidates) > 1:
            inputs = _timing_inputs(cfg.model, manifest, cfg)
            apart = layer_norm_apart(manifest)
            for variant in candidates:
                path = Path(scratch) / f"{variant}.onnx"
                quantize_file(source, path, variant, exclude, cfg.embeddings, cfg.int4_layers)
                session = make_session(path, cfg.threads, layer_norm_apart=apart)
                feeds = [session_inputs(session, x) for x in inputs]
                timings[variant] = round(time_queries(lambda i: session.run(None, feeds[i]), len(feeds))["median_ms"], 4)
                info(f"quantize: variant {variant}: {timings[variant]:.3f} ms median per query")
        best = min(timings, key=timings.get) if timings else candidates[0]
        new_manifest = with_graph(manifest, precision="int8", quantization={
            "variant": best, "per_channel": True, "activations": "per-tensor dynamic uint8",
            "excluded_nodes": len(exclude), "embeddings": "int8" if cfg.embeddings else "fp32",
            "int4_layers": cfg.int4_layers or None,
            "median_ms_by_variant": timings or None}).with_step(
            "quantize", source=str(cfg.model), variant=best, excluded_nodes=exclude,
            reason=(f"fastest of {len(timings)} variants measured on this CPU" if timings else "chosen by the user"))
        write_onnx_model(cfg.model, cfg.output_dir, lambda path: quantize_file(
            source, path, best, exclude, cfg.embeddings, cfg.int4_layers), new_manifest)
    return {"output_dir": cfg.output_dir, "variant": best, "median_ms_by_variant": timings, "excluded_nodes": exclude}


def export_int8(model: str, work: Path, name: str, recipe: str = "leanformer", data_dir: str | None = None) -> str:
    """Export a PyTorch leanformer model and quantize it into ``work/<name>-{fp32,int8}``, once (kept between runs).

    ``data_dir`` is the caller's: the parity check and the variant timing read the same data as the caller.
    """
    fp32, int8 = work / f"{name}-fp32", work / f"{name}-int8"
    if Manifest.read(int8) is None:
        export_model(ExportConfig(model=model, output_dir=str(fp32), recipe=recipe, data_dir=data_dir, overwrite=True))
        quantize_model(QuantizeConfig(model=str(fp32), output_dir=str(int8), data_dir=data_dir, overwrite=True))
    return str(int8)
