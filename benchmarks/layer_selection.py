"""Which layers `prune --layers N` keeps with each `--layer-selection`, and what the cut costs before distillation:
the training-sample loss and the dev accuracy of both cuts, side by side on the same examples.

    .venv/bin/python benchmarks/layer_selection.py --model RUNS/vitaminc-mpnet-teacher --layers 6 \\
        --examples 1000 --dev 1000
"""

from __future__ import annotations

import argparse
import copy
import json

import torch

from leanformer.models import load_model
from leanformer.models.anatomy import keep_layers
from leanformer.prune.importance import choose_layers, mean_loss, top_layers
from leanformer.prune.pruner import PruneConfig, importance_batches
from leanformer.tasks import task_for
from leanformer.training.loop import begin, score_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--layers", type=int, required=True)
    parser.add_argument("--examples", type=int, default=1000, help="training examples the choice is measured on")
    parser.add_argument("--dev", type=int, default=1000, help="dev examples each cut is scored on")
    args = parser.parse_args()
    model, tokenizer, manifest = load_model(args.model)
    cfg = PruneConfig(model=args.model, output_dir="-", layers=args.layers, importance_examples=args.examples,
                      eval_limit=args.dev, redistill=False, show_progress=False,
                      max_length=manifest.input_length(None))
    bf16 = begin(cfg)
    task = task_for(manifest.task)
    batches = importance_batches(tokenizer, task, cfg)[0]
    greedy, measured = choose_layers(model, batches, args.layers, "greedy", bf16, False)
    once = top_layers(torch.tensor(measured["layer_loss_rise"]), args.layers)  # greedy's first round is that pass
    result = {"whole": {"loss": mean_loss(model, batches, bf16),
                        "dev": score_split(model, tokenizer, task, "dev", cfg, bf16)["accuracy"]}}
    for name, kept in (("once", once), ("greedy", greedy)):
        cut = keep_layers(copy.deepcopy(model), kept)
        result[name] = {"layers": kept, "loss": mean_loss(cut, batches, bf16),
                        "dev": score_split(cut, tokenizer, task, "dev", cfg, bf16)["accuracy"]}
    result["greedy_rounds"] = [[round(r, 4) for r in rises] for rises in measured["layer_rounds"]]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
