"""The runtime issue's measurements on one model, side by side in one run.

Exports the model to ONNX (fused), quantizes it to int8 (variant picked by timing), then scores every
configuration on the whole split and times single queries (batch size 1, the same examples, the
same threads) for: PyTorch fp32 and ONNX Runtime int8, each at dynamic length and padded to a fixed
length, plus ONNX Runtime fp32; finally sweeps instances x threads x batch size (``tune-instances``).

    .venv/bin/python benchmarks/runtime.py --model ~/.cache/leanformer/runs/vitaminc-minilm-distilled \\
        --output ~/.cache/leanformer/runs/runtime-bench
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from leanformer.bench.ablation import RowSpec, measure_rows
from leanformer.bench.machine import machine_info
from leanformer.export import ExportConfig, export_model
from leanformer.models import Manifest
from leanformer.quantize import QuantizeConfig, quantize_model
from leanformer.runtime.tune import TuneConfig, tune_instances
from leanformer.tasks import task_for
from leanformer.utils.cpu import physical_cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="fine-tuned leanformer PyTorch model directory")
    parser.add_argument("--output", required=True, help="folder for the ONNX models and results.json")
    parser.add_argument("--split", default="test")
    parser.add_argument("--timing-examples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fixed-length", type=int, default=128, help="the padded length compared with dynamic")
    parser.add_argument("--limit", type=int, default=None, help="score the first N examples only")
    args = parser.parse_args()

    out = Path(args.output)
    fp32_dir, int8_dir = out / "fp32", out / "int8"
    results: dict = {"machine": machine_info(), "args": vars(args)}
    # a rerun replaces this script's own earlier outputs
    results["export"] = export_model(ExportConfig(model=args.model, output_dir=str(fp32_dir), overwrite=True))
    results["quantize"] = quantize_model(QuantizeConfig(model=str(fp32_dir), output_dir=str(int8_dir), overwrite=True))

    task = task_for(Manifest.read(args.model).task)
    examples = task.examples(args.split)[: args.limit]
    timing = examples[: args.timing_examples]
    threads, fixed = physical_cores(), args.fixed_length
    specs = [
        RowSpec(f"PyTorch fp32, padded to {fixed}", args.model, "baseline", threads=threads, fixed_length=fixed),
        RowSpec("PyTorch fp32, dynamic length", args.model, "student", threads=threads),
        RowSpec("ONNX Runtime fp32 (fused), dynamic length", str(fp32_dir), "runtime", threads=threads),
        RowSpec(f"ONNX Runtime int8, padded to {fixed}", str(int8_dir), "runtime", threads=threads, fixed_length=fixed),
        RowSpec("ONNX Runtime int8, dynamic length", str(int8_dir), "runtime", threads=threads),
    ]
    rows = measure_rows(specs, examples, timing, task, repeats=args.repeats)
    base = rows[1]["seconds"]
    results["rows"] = [{"row": r["row"], "accuracy": round(100 * r["metric"], 2), "seconds": round(r["seconds"], 3),
                        "ms_per_query": round(1000 * r["seconds"] / len(timing), 3),
                        "speedup_vs_pytorch_fp32_dynamic": round(base / r["seconds"], 2)} for r in rows]
    results["instances"] = tune_instances(TuneConfig(model=str(int8_dir), examples=args.timing_examples, save=True))
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))

    print(f"\n{len(examples)} {args.split} examples scored; {len(timing)} single queries timed, "
          f"median of {args.repeats}, {threads} threads\n")
    print("| configuration | accuracy | time (s) | ms/query | speed-up vs PyTorch fp32 dynamic |\n|---|---:|---:|---:|---:|")
    for r in results["rows"]:
        print(f"| {r['row']} | {r['accuracy']:.2f} | {r['seconds']:.2f} | {r['ms_per_query']:.2f} | "
              f"{r['speedup_vs_pytorch_fp32_dynamic']:.2f}x |")
    print("\n| instances x threads | batch size | examples/s |\n|---|---:|---:|")
    for r in results["instances"]["rows"]:
        print(f"| {r['instances']} x {r['threads']} | {r['batch_size']} | {r['examples_per_second']:.1f} |")
    print(f"\nexport fusions: {results['export']['fusions']}; parity {results['export']['parity_max_abs_diff']:.2e}")
    print(f"int8 variant: {results['quantize']['variant']} (median ms by variant "
          f"{results['quantize']['median_ms_by_variant']})")


if __name__ == "__main__":
    main()
