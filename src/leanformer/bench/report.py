"""The benchmark report: a Markdown table, CSV and JSON of every figure, and two plots."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from leanformer.pipeline import TUNED_KINDS
from leanformer.utils.paths import atomic_write_text
from leanformer.utils.plots import labelled_scatter

COLUMNS = ("row", "seconds", "cumulative_speedup", "step_speedup", "batched_queries_per_second", "metric",
           "vs_teacher", "usd_per_100m", "joules", "cores")


def markdown(result: dict) -> str:
    price = result["price"]
    head = (f"| step | total time (s) | speed-up (cumulative) | speed-up (step) | batch 32 (queries/s) | "
            f"{result['metric']} | vs teacher (pt) | USD / 100M queries | energy (J) |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        cumulative = f"{r['cumulative_speedup']:.2f}x" if r.get("cumulative_speedup") else "-"
        step = f"{r['step_speedup']:.2f}x" if r.get("step_speedup") else "-"
        batched = f"{r['batched_queries_per_second']:.0f}" if r.get("batched_queries_per_second") else "-"
        lines.append(f"| {r['row']} | {r['seconds']:.3g} | {cumulative} | {step} | {batched} | {100 * r['metric']:.2f} | "
                     f"{100 * r['vs_teacher']:+.2f} | {r['usd_per_100m']:.2f} | {r['joules']:.1f} |")
    majority = result.get("majority_share")
    energy = sorted({r["energy_source"].split(":")[0] for r in result["rows"]})
    lines += ["", f"Timing: {result['timing_examples']} {result['split']} examples at batch size 1, median of "
              f"{result['repeats']} passes, in rounds that time every row once; {result['metric']} on {result['accuracy_examples']} examples"
              + (f" (the majority class is {100 * majority:.2f}% of them)" if majority else "")
              + "; batch 32: that accuracy pass, length-sorted batches of 32, one pass (tokenisation excluded).",
              f"Price: USD {price['usd_per_hour']}/h for a {price['machine_cores']}-core {price['name']}, prorated to "
              f"the cores used (USD {price['usd_per_hour_prorated']:.4f}/h for "
              f"{result['machine']['physical_cores']} cores).",
              *[f"{r['row']}: {r['accuracy_note']}." for r in result["rows"] if r.get("accuracy_note")],
              f"Energy: {', '.join(energy)}" + (" (CPU seconds x watts per core; no RAPL counters readable here)"
                                                if "estimate" in energy else " (RAPL package counters)") + ".",
              f"Machine: {result['machine']['cpu']}, {result['machine']['physical_cores']} physical cores, "
              f"flags {', '.join(result['machine']['flags'])}."]
    if result.get("recipe_steps"):
        lines += ["", "| recipe step | wall time (s) |", "|---|---:|",
                  *[f"| {s['step']} | {'reused' if s['reused'] else s['seconds']} |" for s in result["recipe_steps"]]]
    return "\n".join(lines) + "\n"


def write_report(out: Path, result: dict) -> None:
    atomic_write_text(out / "report.md", markdown(result))
    atomic_write_text(out / "report.json", json.dumps(result, indent=2) + "\n")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, [*COLUMNS, "queries_per_second", "peer", "energy_source"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(result["rows"])
    atomic_write_text(out / "report.csv", buffer.getvalue())
    _plot_accuracy_vs_speed(out / "accuracy_vs_speed.png", result)
    pruned = [r for r in result["rows"] if r["kind"] in TUNED_KINDS]
    if len(pruned) > 1:
        _plot_pruning(out / "pruning_tradeoff.png", pruned, result["metric"])


def _plot_accuracy_vs_speed(path: Path, result: dict) -> None:
    rows = result["rows"]
    labelled_scatter(path, [r["queries_per_second"] for r in rows], [100 * r["metric"] for r in rows],
                     ["peer" if r["peer"] else str(i + 1) for i, r in enumerate(rows)],
                     "queries per second (batch size 1, log scale)", f"{result['metric']} (%)",
                     "Accuracy vs speed, each step of the recipe", log_x=True, width=7)


def _plot_pruning(path: Path, rows: list[dict], metric: str) -> None:
    labelled_scatter(path, [r["seconds"] for r in rows], [100 * r["metric"] for r in rows],
                     [r["row"].replace("+ ", "") for r in rows], "total time for the timing sample (s)",
                     f"{metric} (%)", "Structured pruning trade-off", line=True)
