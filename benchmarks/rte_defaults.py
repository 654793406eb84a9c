"""Do the default training settings learn on a small real entailment set? (issue: defaults that learn)

Builds a SuperGLUE-RTE-layout folder from real VitaminC pairs (evidence as premise, claim as hypothesis;
SUPPORTS -> entailment, REFUTES and NOT ENOUGH INFO -> not_entailment), balanced by sampling, then runs
the README's command with no training flags at all:

    leanformer train -m all-MiniLM-L6-v2 --task rte --data-dir DIR -o OUT

and prints dev accuracy next to the majority class.

    .venv/bin/python benchmarks/rte_defaults.py --train 1500 --output runs/rte-defaults
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from leanformer.cli.main import main as leanformer
from leanformer.tasks import TaskConfig, get_task


def rte_rows(examples: list, count: int, seed: int) -> list[dict]:
    entail = [e for e in examples if e.label == 0]  # SUPPORTS
    other = [e for e in examples if e.label != 0]
    rng = random.Random(seed)
    picked = rng.sample(entail, count // 2) + rng.sample(other, count - count // 2)
    rng.shuffle(picked)
    return [{"idx": i, "premise": e.pairs[0][0], "hypothesis": e.pairs[0][1],
             "label": "entailment" if e.label == 0 else "not_entailment"} for i, e in enumerate(picked)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=1500, help="training pairs (balanced)")
    parser.add_argument("--dev", type=int, default=1000, help="dev pairs (balanced)")
    parser.add_argument("--output", default="runs/rte-defaults")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.output)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    vitaminc = get_task(TaskConfig(name="vitaminc"))
    for split, source, count in (("train", "train", args.train), ("val", "dev", args.dev)):
        rows = rte_rows(vitaminc.examples(source), count, args.seed)
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code = leanformer(["train", "-m", "all-MiniLM-L6-v2", "--task", "rte", "--data-dir", str(data),
                       "-o", str(out / "model"), "--overwrite"])  # a rerun replaces its own model
    if code == 0:
        manifest = json.loads((out / "model" / "leanformer.json").read_text())
        step = manifest["lineage"][-1]
        print(f"\ndev accuracy {100 * step['metrics']['dev']['accuracy']:.2f} (majority class 50.00) after "
              f"{step['config']['epochs']} epochs at lr {step['config']['learning_rate']:g}; "
              f"warnings: {step['warnings'] or 'none'}")


if __name__ == "__main__":
    main()
