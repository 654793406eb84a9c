"""Accuracy of approximate attention (sign-matching, hard top-k) against exact attention, and the attention
multiply-adds it would save, on one model and split (issue: approximate computing).

Every configuration is scored on the same examples in one run: exact attention first, then each method and k
applied to every layer (``--layers`` to choose), then, with ``--each``, the first method and k on one layer at
a time (which layers tolerate it). The saving is counted, not timed: the approximation is a mask over exact
scores here (models/attention.py), so it saves no time; a dedicated kernel would do ``min(k, L)`` of ``L``
key products per query in the scores and the context.

    .venv/bin/python benchmarks/approx_attention.py --model MODEL_DIR --split test --limit 2000 --k 16,32 --each
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from leanformer.data.features import encode
from leanformer.models import load_model
from leanformer.models.anatomy import block_parts
from leanformer.models.attention import METHODS, apply_approximate_attention, attention_macs
from leanformer.models.structure import current_structure
from leanformer.tasks import task_for
from leanformer.training.loop import score_split
from leanformer.training.options import TrainOptions


def layer_macs(lengths: list[int], shape: dict, approximated: dict[str, int]) -> tuple[float, float]:
    """Attention multiply-adds (scores and context) of the approximated layers (``{layer: k}``) over their exact
    ones, and the share of the whole encoder's (projections, attention, FFN) saved, summed over the lengths."""
    hidden, size = shape["hidden"], shape["head_size"]
    total = exact = approx = 0
    for i, (heads, ffn) in enumerate(zip(shape["heads_per_layer"], shape["ffn_per_layer"])):
        full = sum(n * attention_macs(n, size, heads) for n in lengths)
        total += full + sum(n * (4 * hidden * heads * size + 2 * hidden * ffn) for n in lengths)
        if str(i) in approximated:
            exact += full
            approx += sum(n * attention_macs(n, size, heads, approximated[str(i)]) for n in lengths)
    return (approx / exact if exact else 1.0), (exact - approx) / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None, help="only the first N examples")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--k", default="16,32", help="keys per query, comma-separated")
    parser.add_argument("--layers", default="all", help="layers to approximate, comma-separated (default: all)")
    parser.add_argument("--each", action="store_true", help="also the first method and k on each layer alone")
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--output", help="also write the rows to this JSON file")
    args = parser.parse_args()

    model, tokenizer, manifest = load_model(args.model)
    task = task_for(manifest.task)
    opts = TrainOptions(max_length=manifest.max_length, eval_limit=args.limit, show_progress=False)
    examples = task.examples(args.split)[: args.limit]
    lengths = [len(f["input_ids"]) for features in encode(examples, tokenizer, manifest.max_length) for f in features]
    shape = current_structure(model)
    layers = list(range(len(block_parts(model)))) if args.layers == "all" else [int(i) for i in args.layers.split(",")]
    metric = task.primary_metric

    rows = []

    def scored(name: str, layer_specs: dict[str, dict]) -> None:
        for part in block_parts(model):  # every layer back to exact before this configuration
            if part.attention is not None:
                part.attention.approximate_attention = None
        if layer_specs:
            apply_approximate_attention(model, layer_specs)
        value = score_split(model, tokenizer, task, args.split, opts, args.bf16)[metric]
        share, saved = layer_macs(lengths, shape, {i: spec["k"] for i, spec in layer_specs.items()})
        rows.append({"configuration": name, metric: value, "attention_macs": share, "encoder_macs_saved": saved})
        base = rows[0][metric]
        print(f"| {name} | {100 * value:.2f} | {100 * (value - base):+.2f} | {share:.2f} | {100 * saved:.1f}% |",
              flush=True)

    print(f"{args.model}, {args.split}, {len(examples)} examples, mean length {sum(lengths) / len(lengths):.1f} "
          f"tokens, {'bf16' if args.bf16 else 'fp32'}\n")
    print(f"| attention | {metric} | vs exact (pt) | attention multiply-adds of those layers vs exact | encoder multiply-adds saved |")
    print("|---|---:|---:|---:|---:|")
    scored("exact", {})
    methods, ks = args.methods.split(","), [int(k) for k in args.k.split(",")]
    for method in methods:
        for k in ks:
            scored(f"{method}, k={k}, layers {args.layers}", {str(i): {"method": method, "k": k} for i in layers})
    if args.each:
        for i in layers:
            scored(f"{methods[0]}, k={ks[0]}, layer {i} alone", {str(i): {"method": methods[0], "k": ks[0]}})
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps({"model": args.model, "split": args.split, "examples": len(examples),
                                                 "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
