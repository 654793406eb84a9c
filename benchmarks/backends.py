"""Runtimes side by side on one model (issue: runtime backends): PyTorch fp32, ONNX Runtime int8 (with fp32 or
int8 embedding tables), OpenVINO int8 (NNCF), OpenVINO running the fp32 graph at its default precision, and
CTranslate2 int8 (BERT-family models).

The same test examples for every row, dynamic length, tokenisation included; batch size 1 (ms per query)
and length-sorted batches of 32 (queries per second); rows interleaved within each of the repeats so
machine drift hits them alike; medians reported. Agreement: share of predictions equal to PyTorch fp32's.

    .venv/bin/python benchmarks/backends.py --model RUNS/student --output RUNS/backends
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from leanformer.bench.machine import machine_info
from leanformer.export import ExportConfig, export_model
from leanformer.models import Manifest
from leanformer.quantize import QuantizeConfig, quantize_model
from leanformer.quantize.ctranslate2 import to_ctranslate2
from leanformer.quantize.openvino import OpenVinoConfig, to_openvino
from leanformer.runtime.predictor import Predictor
from leanformer.tasks import task_for
from leanformer.utils.cpu import physical_cores


def build(model: str, out: Path) -> dict[str, str]:
    """Every variant's model directory (built once, reused by reruns)."""
    dirs = {name: out / name for name in ("onnx-fp32", "ort-int8", "ort-int8-embeddings", "openvino-int8",
                                          "openvino-fp32", "ctranslate2-int8")}
    if Manifest.read(dirs["onnx-fp32"]) is None:
        export_model(ExportConfig(model=model, output_dir=str(dirs["onnx-fp32"]), overwrite=True))
    fp32 = str(dirs["onnx-fp32"])
    for name, embeddings in (("ort-int8", False), ("ort-int8-embeddings", True)):
        if Manifest.read(dirs[name]) is None:
            quantize_model(QuantizeConfig(model=fp32, output_dir=str(dirs[name]), embeddings=embeddings, overwrite=True))
    for name, precision in (("openvino-int8", "int8"), ("openvino-fp32", "fp32")):
        if Manifest.read(dirs[name]) is None:
            to_openvino(OpenVinoConfig(model=fp32, output_dir=str(dirs[name]), precision=precision, overwrite=True))
    if Manifest.read(dirs["ctranslate2-int8"]) is None:
        to_ctranslate2(model, str(dirs["ctranslate2-int8"]), overwrite=True)
    return {"pytorch-fp32": model, **{k: str(v) for k, v in dirs.items() if k != "onnx-fp32"}}


def file_mb(model_dir: str) -> float:
    files = [p for p in Path(model_dir).rglob("*") if p.suffix in (".onnx", ".bin", ".safetensors")]
    return round(sum(p.stat().st_size for p in files) / 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="fine-tuned leanformer PyTorch model directory")
    parser.add_argument("--output", required=True)
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    out = Path(args.output)
    variants = build(args.model, out)
    examples = task_for(Manifest.read(args.model).task).examples("test")[: args.examples]
    threads = physical_cores()
    single = {n: Predictor(d, threads=threads, batch_size=1, sort_by_length=False) for n, d in variants.items()}
    batched = {n: Predictor(d, threads=threads, batch_size=32, sort_by_length=True) for n, d in variants.items()}
    for predictor in single.values():
        predictor.logits(examples[:20])  # warm-up
    predictions = {n: p.logits(examples).argmax(-1) for n, p in batched.items()}
    reference = predictions["pytorch-fp32"]
    ms, qps = {n: [] for n in variants}, {n: [] for n in variants}
    for _ in range(args.repeats):
        for name in variants:  # interleaved: every row once per repeat
            start = time.perf_counter()
            single[name].logits(examples)
            ms[name].append(1000 * (time.perf_counter() - start) / len(examples))
            start = time.perf_counter()
            batched[name].logits(examples)
            qps[name].append(len(examples) / (time.perf_counter() - start))
    rows = [{"runtime": n, "bs1_ms_per_query": round(statistics.median(ms[n]), 2),
             "bs32_queries_per_second": round(statistics.median(qps[n]), 1), "file_mb": file_mb(variants[n]),
             "agreement_with_pytorch_fp32": round(float((predictions[n] == reference).mean()), 4)} for n in variants]
    result = {"model": args.model, "examples": len(examples), "threads": threads, "repeats": args.repeats,
              "machine": machine_info(), "rows": rows}
    (out / "backends.json").write_text(json.dumps(result, indent=2) + "\n")
    print("| runtime | bs 1, ms / query | bs 32, queries / s | file MB | agreement with PyTorch fp32 |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['runtime']} | {r['bs1_ms_per_query']} | {r['bs32_queries_per_second']} | {r['file_mb']} | "
              f"{100 * r['agreement_with_pytorch_fp32']:.1f}% |")


if __name__ == "__main__":
    main()
