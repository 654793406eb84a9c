"""The frontier plot: test accuracy vs speed-up over the teacher at dynamic length (PyTorch fp32), log scale,
for every row of one or more `leanformer bench` reports (each report's speed-ups against its own teacher row).

    .venv/bin/python benchmarks/frontier_plot.py RUNS/frontier/bench/report.json RUNS/frontier/frontier.png \\
        --earlier benchmarks/frontier_earlier.csv

``--earlier`` takes more bench reports, or CSV files of points measured before (label, speedup, accuracy):
the earlier MiniLM students, whose bench ran on another machine.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from leanformer.utils.plots import figure, save


#: the frontier issue's targets: (speed-up over the dynamic-length teacher, accuracy points below it)
TARGETS = ((20, 1.0), (40, 2.0), (67, 3.0))


def points(report: dict) -> list[tuple[str, float, float]]:
    rows = report["rows"]
    teacher = next(r for r in rows if r["kind"] == "teacher")
    return [(r["row"], teacher["seconds"] / r["seconds"], 100 * r["metric"]) for r in rows if r["kind"] != "baseline"]


def read_points(path: Path) -> list[tuple[str, float, float]]:
    if path.suffix == ".csv":
        with path.open(newline="") as f:
            return [(r["label"], float(r["speedup"]), float(r["accuracy"])) for r in csv.DictReader(f)]
    return points(json.loads(path.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", help="report.json of the frontier bench")
    parser.add_argument("output", help="PNG to write")
    parser.add_argument("--earlier", nargs="*", default=[], help="earlier bench reports to plot beside it")
    args = parser.parse_args()
    fig, ax = figure(8, 5)
    for n, (path, marker) in enumerate(zip([args.report, *(p for p in args.earlier if Path(p).exists())], "os^vD")):
        path = Path(path)
        pts = read_points(path)
        # a report is named by its run and bench folders (RUNS/<run>/<bench>/report.json), a CSV by its file
        ax.plot([p[1] for p in pts], [p[2] for p in pts], marker, label=path.stem if path.suffix == ".csv"
                else f"{path.parent.parent.name}/{path.parent.name}")
        for label, x, y in pts if n == 0 or path.suffix == ".csv" else []:  # earlier runs: markers only
            ax.annotate(label.replace("+ ", "")[:40], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=6)
        print("\n".join(f"{x:7.1f}x  {y:6.2f}  {label}" for label, x, y in pts))
    teacher = 100 * next(r for r in json.loads(Path(args.report).read_text())["rows"] if r["kind"] == "teacher")["metric"]
    ax.plot(*zip(*[(speed, teacher - loss) for speed, loss in TARGETS]), "k+", markersize=12,
            label="targets (speed-up, points below the teacher)")
    ax.set_xscale("log")
    ax.set_xlabel("speed-up over the teacher, PyTorch fp32, dynamic length (batch size 1, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("VitaminC: accuracy vs speed of every student")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    save(fig, Path(args.output))


if __name__ == "__main__":
    main()
