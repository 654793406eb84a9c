"""Significance analysis with and without prefix replay, side by side on one model (models/replay.py).

Each component is measured with the layers before it replayed from the previous pass; this times the same
analysis both ways, in alternating order, and checks that the rows agree.

    .venv/bin/python benchmarks/replay.py --model MODEL_DIR --examples 64 --kinds attention,ffn
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path
from unittest import mock

from leanformer.approx import AnalyzeConfig, analyze
from leanformer.models.replay import PrefixReplay


def timed(cfg: AnalyzeConfig, replay: bool) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        if not replay:
            full_passes = lambda self, keys, keep=(), only=False: contextlib.nullcontext()  # noqa: E731
            stack.enter_context(mock.patch.object(PrefixReplay, "passes", full_passes))
        started = time.perf_counter()
        analyze(AnalyzeConfig(**{**vars(cfg), "output_dir": str(Path(tmp) / "a")}))
        seconds = time.perf_counter() - started
        rows = json.loads((Path(tmp) / "a" / "significance.json").read_text())["rows"]
    return seconds, {r["component"]: r["loss"] for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--kinds", default="attention,ffn")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cfg = AnalyzeConfig(model=args.model, output_dir="unused", examples=args.examples, kinds=args.kinds.split(","),
                        show_progress=False)
    times, reference = {True: [], False: []}, None
    for r in range(args.rounds):
        for replay in ((True, False) if r % 2 == 0 else (False, True)):
            seconds, rows = timed(cfg, replay)
            times[replay].append(seconds)
            reference = reference or rows
            worst = max(abs(rows[k] - reference[k]) for k in rows)
            print(f"round {r + 1}, replay {'on ' if replay else 'off'}: {seconds:.1f} s (largest loss difference "
                  f"{worst:.2e})", flush=True)
    on, off = min(times[True]), min(times[False])
    print(f"best of {args.rounds}: {off:.1f} s without replay, {on:.1f} s with: {off / on:.2f}x")


if __name__ == "__main__":
    main()
