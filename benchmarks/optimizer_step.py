"""One training step of an MPNet-base classifier (bf16 autocast on the CPU) with PyTorch's default AdamW and
with the fused AdamW that training uses, timed side by side in alternating rounds.

Speed does not depend on the weights, so the model is built from its configuration (random weights).

    .venv/bin/python benchmarks/optimizer_step.py --batch-size 32 --length 58 --rounds 4
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from transformers import MPNetConfig, MPNetForSequenceClassification


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=58, help="tokens per example (VitaminC's mean is 58)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round and kind, after one warm-up")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = MPNetForSequenceClassification(MPNetConfig(num_labels=3)).train()
    inputs = torch.randint(5, 30000, (args.batch_size, args.length))
    labels = torch.randint(0, 3, (args.batch_size,))
    optimizers = {"default": torch.optim.AdamW(model.parameters(), lr=1e-5),
                  "fused": torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)}
    times = {kind: {"step": [], "optimizer": []} for kind in optimizers}

    def step(optimizer) -> tuple[float, float]:
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(input_ids=inputs).logits
        torch.nn.functional.cross_entropy(logits.float(), labels).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        stepped = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = time.perf_counter()
        return done - started, done - stepped

    print(f"MPNet-base, batch {args.batch_size} x {args.length} tokens, bf16 autocast, "
          f"{torch.get_num_threads()} threads")
    for r in range(args.rounds):
        for kind in (("default", "fused") if r % 2 == 0 else ("fused", "default")):
            step(optimizers[kind])  # warm-up (and the optimizer's state)
            for whole, opt in (step(optimizers[kind]) for _ in range(args.steps)):
                times[kind]["step"].append(whole)
                times[kind]["optimizer"].append(opt)
    for kind, t in times.items():
        print(f"{kind}: step {statistics.median(t['step']):.3f} s, of which optimizer "
              f"{statistics.median(t['optimizer']):.3f} s (median of {len(t['step'])})")
    default, fused = (statistics.median(times[k]["step"]) for k in ("default", "fused"))
    print(f"fused AdamW: {default / fused:.2f}x faster steps")


if __name__ == "__main__":
    main()
