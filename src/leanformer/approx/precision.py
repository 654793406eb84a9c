"""Significance-guided mixed precision (``leanformer mixed-precision``): int8 for the layers that tolerate it,
float for the rest, and optionally 4-bit weights for the most tolerant, chosen by measured accuracy of the
quantized graph on a sample of the training split.

Layers are visited from the least significant up: by an earlier ``analyze`` table when given (the loss
rise of removing the layer's attention and FFN), else by measuring each layer quantized alone. A layer
becomes int8 when the sample metric stays within the budget of the fp32 graph's; with ``int4`` the int8
layers are then visited again in the same order and get 4-bit weights while the metric still holds. The
result is the ordinary quantized model (``quantize --exclude-layers ... --int4-layers ...``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import onnx

from leanformer.errors import LeanformerError
from leanformer.models.loading import load_tokenizer
from leanformer.quantize.dynamic import QuantizeConfig, excluded_nodes, node_layer, quantize_file, quantize_model
from leanformer.runtime.onnx_model import read_onnx_model, write_onnx_model
from leanformer.runtime.predictor import Predictor
from leanformer.tasks import task_for
from leanformer.utils.config import DATA_DIR_HELP, OVERWRITE_HELP, option
from leanformer.utils.paths import check_output, scratch_dir
from leanformer.utils.progress import ProgressBar, info


@dataclass(kw_only=True)
class MixedPrecisionConfig:
    model: str = option(help="Exported fp32 ONNX model directory.", flags=("--model", "-m"))
    output_dir: str = option(help="Directory for the mixed-precision model.", flags=("--output", "-o"))
    budget: float = option(0.005, "Relative drop of the metric allowed against the fp32 graph (0.005: 0.5%).")
    significance: str | None = option(None, "significance.json of an earlier analyze to order the layers by "
                                            "(default: measure each layer quantized alone).")
    examples: int = option(1000, "Training examples (a seeded sample) the metric is measured on.")
    variant: str = option("s8", "Operator variant of the int8 layers (see quantize).")
    int4: bool = option(False, "Then store the weights of the most tolerant int8 layers in 4 bits while the "
                               "metric holds (a smaller file, not a faster one).", flags=("--int4/--no-int4",))
    embeddings: bool = option(False, "Also store the embedding tables in int8 (measured with the rest).",
                              flags=("--embeddings/--no-embeddings",))
    seed: int = option(42, "Seed of the training sample.")
    threads: int | None = option(None, "Threads of the measuring sessions.")
    data_dir: str | None = option(None, DATA_DIR_HELP)
    overwrite: bool = option(False, OVERWRITE_HELP, flags=("--overwrite",))
    show_progress: bool = option(True, "Progress bars.", cli=False)


def _layer_order(path: str | None, layers: int) -> list[int] | None:
    """Layers from the least significant up, by an analysis table (attention + FFN loss rise)."""
    if path is None:
        return None
    rows = json.loads(Path(path).read_text(encoding="utf-8"))["rows"]
    weight = {i: 0.0 for i in range(layers)}
    for r in rows:
        if r["kind"] in ("attention", "ffn") and r["layer"] in weight:
            weight[r["layer"]] += r["loss_change"]
    return sorted(weight, key=weight.get)


def mixed_precision(cfg: MixedPrecisionConfig) -> dict:
    """Quantize the most layers to int8 that keep the sample metric within the budget; float the rest."""
    check_output(cfg.output_dir, [cfg.model, cfg.data_dir], cfg.overwrite)
    source, manifest = read_onnx_model(cfg.model)
    if manifest.onnx.precision != "fp32":
        raise LeanformerError(f"{cfg.model}: expected an fp32 ONNX model, found {manifest.onnx.precision}")
    if not 0 <= cfg.budget < 1:
        raise LeanformerError(f"budget is a relative metric drop in [0, 1), got {cfg.budget}")
    graph = onnx.load(str(source))
    layers = _count_layers(graph)
    task = task_for(manifest.task, cfg.data_dir)
    examples = task.read_for_training(cfg.examples, cfg.seed, test=False)
    load_tokenizer(cfg.model)  # a clear error before any work when the directory lacks one

    def metric(model_dir) -> float:
        predictor = Predictor(str(model_dir), threads=cfg.threads)
        return task.compute_metrics(examples, predictor.logits(examples))[task.primary_metric]

    def quantized(scratch: Path, int8_layers: list[int], name: str, int4_layers: list[int] = ()) -> Path:
        """A copy of the model directory whose graph has only ``int8_layers`` quantized (``int4_layers`` of
        them in 4 bits)."""
        floats = [i for i in range(layers) if i not in int8_layers]
        target = scratch / name
        write_onnx_model(cfg.model, target, lambda path: quantize_file(
            source, path, cfg.variant, excluded_nodes(graph, [], floats), cfg.embeddings, int4_layers), manifest)
        return target

    with scratch_dir(cfg.output_dir) as scratch:
        scratch = Path(scratch)
        reference = metric(cfg.model)
        floor = reference * (1 - cfg.budget)
        order = _layer_order(cfg.significance, layers)
        sensitivity = None
        if order is None:  # measure each layer quantized alone
            with ProgressBar(layers, "layer sensitivity", enabled=cfg.show_progress) as bar:
                sensitivity = {}
                for i in range(layers):
                    sensitivity[i] = reference - metric(quantized(scratch, [i], f"alone{i}"))
                    bar.advance(1)
            order = sorted(sensitivity, key=sensitivity.get)
        chosen, current = [], reference
        for step, i in enumerate(order):
            trial = metric(quantized(scratch, chosen + [i], f"step{step}"))
            if trial >= floor:
                chosen, current = chosen + [i], trial
        int4 = []
        for step, i in enumerate([i for i in order if i in chosen] if cfg.int4 else []):
            trial = metric(quantized(scratch, chosen, f"int4-{step}", int4 + [i]))
            if trial >= floor:
                int4, current = int4 + [i], trial
        floats = sorted(i for i in range(layers) if i not in chosen)
        info(f"mixed precision: int8 layers {sorted(set(chosen) - set(int4))}, 4-bit layers {sorted(int4)}, float "
             f"layers {floats}; sample {task.primary_metric} {reference:.4f} (fp32) -> {current:.4f}")
    result = quantize_model(QuantizeConfig(model=cfg.model, output_dir=cfg.output_dir, variant=cfg.variant,
                                           exclude_layers=floats, int4_layers=sorted(int4), embeddings=cfg.embeddings,
                                           threads=cfg.threads, data_dir=cfg.data_dir, overwrite=cfg.overwrite))
    return {**result, "int8_layers": sorted(set(chosen) - set(int4)), "int4_layers": sorted(int4),
            "float_layers": floats, "sample_fp32": reference, "sample_mixed": current,
            "layer_sensitivity": sensitivity}


def _count_layers(graph: onnx.ModelProto) -> int:
    found = {node_layer(n.name) for n in graph.graph.node} - {None}
    if not found:
        raise LeanformerError("cannot tell the layers of this graph apart (no layer names in its nodes)")
    return max(found) + 1
