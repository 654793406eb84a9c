"""Graph optimisation with ONNX Runtime's transformer optimizer, made to match transformers v5 exports.

Transformers v5 scales attention scores with a Mul; the additive padding mask is a Mul too, and the
optimizer's attention matcher takes the first Mul parent it finds, so it never fuses. Rewriting the
score scaling as a Div by the inverse constant (exact up to rounding) restores the pattern it
knows. Head count and width come from the model itself, so pruned models (heads x head size !=
hidden size) fuse as well.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from leanformer.utils.progress import quiet_logging

#: fused operators worth reporting, in the order they are usually applied
FUSIONS = ("EmbedLayerNormalization", "Attention", "MultiHeadAttention", "SkipLayerNormalization",
           "BiasGelu", "FastGelu", "Gelu", "LayerNormalization")


def _constant(graph: onnx.GraphProto, name: str) -> np.ndarray | None:
    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            return numpy_helper.to_array(node.attribute[0].t)
    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    return None


def scale_scores_by_division(model: onnx.ModelProto) -> int:
    """Rewrite ``Softmax(Add(Mul(MatMul(q, k), c), mask))`` as ``... Div(MatMul(q, k), 1/c) ...``; returns the count."""
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    rewritten = 0
    for softmax in (n for n in graph.node if n.op_type == "Softmax"):
        add = producer.get(softmax.input[0])
        if add is None or add.op_type != "Add":
            continue
        for name in add.input:
            mul = producer.get(name)
            if mul is None or mul.op_type != "Mul" or getattr(producer.get(mul.input[0]), "op_type", None) != "MatMul":
                continue
            scale = _constant(graph, mul.input[1])
            if scale is None or scale.size != 1:
                continue
            inverse = f"{mul.output[0]}/inverse_scale"
            graph.initializer.append(numpy_helper.from_array((1.0 / scale).astype(scale.dtype), inverse))
            mul.op_type, mul.input[1] = "Div", inverse
            rewritten += 1
    return rewritten


def optimize_graph(source: Path, target: Path, num_heads: int, hidden_size: int, prepare: bool = True,
                   skip_layer_norm: bool = True) -> dict[str, int]:
    """Fuse ``source`` into ``target``; returns how many of each fused operator the graph now has.

    ``prepare`` applies the rewrite above first; without it this is the stock optimizer. ``skip_layer_norm``:
    fuse residual Add + LayerNormalization into SkipLayerNormalization (see ``runtime.kernels``).
    """
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    if prepare:
        model = onnx.load(str(source))
        scale_scores_by_division(model)
        onnx.save(model, str(source))
    options = FusionOptions("bert")
    options.enable_skip_layer_norm = options.enable_bias_skip_layer_norm = skip_layer_norm
    with quiet_logging():  # the optimizer logs every pattern it tries
        optimized = optimizer.optimize_model(str(source), model_type="bert", num_heads=num_heads,
                                             hidden_size=hidden_size, opt_level=0, optimization_options=options)
    optimized.save_model_to_file(str(target))
    stats = optimized.get_fused_operator_statistics()
    return {op: stats[op] for op in FUSIONS if stats.get(op)}
