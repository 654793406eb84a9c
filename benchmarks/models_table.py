"""Side-by-side table of fine-tuned models: accuracy from their manifests, size, and single-query latency.

Latency is PyTorch fp32 at batch size 1 and each query's own length, on the same examples for every
model, with the models interleaved within each repeat so machine drift hits them alike (the
distillation issue's Table 1).

    .venv/bin/python benchmarks/models_table.py ~/.cache/leanformer/runs/vitaminc-mpnet-teacher \\
        ~/.cache/leanformer/runs/vitaminc-minilm ~/.cache/leanformer/runs/vitaminc-minilm-distilled
"""

from __future__ import annotations

import argparse
import statistics

import torch

from leanformer.data.features import encode
from leanformer.models import count_parameters, load_model
from leanformer.tasks import task_for
from leanformer.utils.cpu import physical_cores
from leanformer.bench.latency import torch_latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="leanformer model directories")
    parser.add_argument("--split", default="test")
    parser.add_argument("--examples", type=int, default=500, help="queries timed per model")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()

    torch.set_num_threads(physical_cores())
    loaded = [load_model(m) for m in args.models]
    task = task_for(loaded[0][2].task)
    examples = task.examples(args.split)[: args.examples]
    features = [encode(examples, tok, args.max_length) for _, tok, _ in loaded]
    totals: list[list[float]] = [[] for _ in loaded]
    for _ in range(args.repeats):
        for i, (model, tok, manifest) in enumerate(loaded):
            timing = torch_latency(model, features[i], tok.pad_token_id, manifest.multiple_choice)
            totals[i].append(timing["total_s"])

    print(f"\nLatency: PyTorch fp32, batch size 1, {len(examples)} {args.split} queries at their own length, "
          f"{physical_cores()} threads, median of {args.repeats} interleaved passes.\n")
    print("| model | layers x hidden | parameters | dev acc. | test acc. | ms/query | speed-up |\n"
          "|---|---|---:|---:|---:|---:|---:|")
    base = statistics.median(totals[0])
    for path, (model, _, manifest), total in zip(args.models, loaded, totals):
        acc = {s: 100 * manifest.metrics[s][task.primary_metric] for s in ("dev", "test")}
        median = statistics.median(total)
        print(f"| {path.rstrip('/').split('/')[-1]} | {model.config.num_hidden_layers} x {model.config.hidden_size} | "
              f"{count_parameters(model) / 1e6:.1f}M | {acc['dev']:.2f} | {acc['test']:.2f} | "
              f"{1000 * median / len(examples):.2f} | {base / median:.2f}x |")


if __name__ == "__main__":
    main()
