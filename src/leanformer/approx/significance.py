"""Significance analysis (``leanformer analyze``): how much the task loss and metric change when each
component alone is removed, measured on a seeded sample of the training split.

Decisions rest on measured loss, never on the split that is reported. The table is written as the
analysis goes (``progress.jsonl``), so an interrupted run resumes where it stopped, and ``settings.json``
says how its rows were measured, so a resumed or reused analysis never mixes rows from another sample.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from leanformer.approx.components import KINDS, Component, by_layer, components, cost, masks
from leanformer.data.features import encode
from leanformer.errors import LeanformerError
from leanformer.models import load_model
from leanformer.models.anatomy import layers
from leanformer.models.inference import predict_logits
from leanformer.models.replay import PrefixReplay
from leanformer.tasks import Task, task_for
from leanformer.training.loop import begin
from leanformer.training.options import TrainOptions
from leanformer.utils.config import DATA_DIR_HELP, MAX_LENGTH_HELP, OVERWRITE_HELP, option, str_list
from leanformer.utils.device import resolve_device
from leanformer.utils.paths import append_row, atomic_write_text, prepare_output_dir, read_rows
from leanformer.utils.plots import figure, save
from leanformer.utils.progress import ProgressBar, info


@dataclass(kw_only=True)
class AnalyzeConfig:
    model: str = option(help="Leanformer model directory to analyse.", flags=("--model", "-m"))
    output_dir: str = option(help="Folder for significance.csv/.json and significance.png.", flags=("--output", "-o"))
    examples: int = option(1000, "Training examples (a seeded sample) every removal is measured on.")
    group_size: int = option(256, "FFN neurons per group.")
    kinds: list[str] = option(help="Granularities, comma-separated (default: attention,ffn,head,group).",
                              factory=lambda: list(KINDS), parse=str_list)
    batch_size: int = option(64, "Batch size of the measuring passes.")
    max_length: int | None = option(None, MAX_LENGTH_HELP)
    bf16: bool | None = option(None, "Numerics of the measuring passes (default: bf16 where the device supports "
                                     "it).", flags=("--bf16/--fp32",))
    device: str = option("auto", "Where the measuring passes run: cpu, cuda, cuda:N, or auto (the GPU where there "
                                 "is one).")
    threads: int | None = option(None, "Intra-op CPU threads (default: physical cores).")
    seed: int = option(42, "Seed of the training sample.")
    data_dir: str | None = option(None, DATA_DIR_HELP)
    overwrite: bool = option(False, OVERWRITE_HELP, flags=("--overwrite",))
    show_progress: bool = option(True, "Progress bars.", cli=False)


class Scorer:
    """Loss and metric of a model on a fixed sample with a set of components silenced by masks."""

    def __init__(self, model, tokenizer, task: Task, cfg: AnalyzeConfig, bf16: bool):
        self.model, self.task, self.cfg, self.bf16 = model.eval(), task, cfg, bf16
        self.examples = task.read_for_training(cfg.examples, cfg.seed, test=False)
        self.features = encode(self.examples, tokenizer, cfg.max_length)
        self.labels = torch.tensor([ex.label for ex in self.examples])
        self.pad_id = tokenizer.pad_token_id
        self.replay, self.layers = PrefixReplay(model), len(layers(model))

    def __call__(self, removed: set[Component], replay: bool = False, trial: Component | None = None) -> dict:
        """Loss and metric with ``removed`` and ``trial`` silenced.

        ``replay``: the caller vouches that the model is unchanged but for the silenced components since the last
        call, so the layers that silence what they silenced in an earlier pass replay its outputs; a call without
        it forgets them. The outputs kept for later calls are those of the layers before ``trial``'s, which hold
        for ``removed`` alone: the next trial beside the same removals replays them whether this one is kept or
        not."""
        if not replay:
            self.replay.forget()
        silenced = removed | {trial} if trial is not None else removed
        keep = range(trial.layer if trial is not None else self.layers)
        with masks(self.model, silenced, self.cfg.group_size), self.replay.passes(by_layer(silenced, self.layers), keep):
            logits = predict_logits(self.model, self.features, self.pad_id, self.task.multiple_choice,
                                    self.cfg.batch_size, self.bf16, show_progress=False)
        loss = F.cross_entropy(torch.from_numpy(logits), self.labels).item()
        return {"loss": loss, "metric": self.task.compute_metrics(self.examples, logits)[self.task.primary_metric]}


def start(cfg: AnalyzeConfig):
    """Model, tokenizer, manifest, task, scorer and the components to weigh, for analyze and approximate."""
    unknown = set(cfg.kinds) - set(KINDS)
    if unknown or not cfg.kinds:
        raise LeanformerError(f"unknown component kinds {sorted(unknown)}; expected some of {', '.join(KINDS)}")
    if cfg.group_size < 1 or cfg.examples < 1:
        raise LeanformerError("group size and examples must be at least 1")
    bf16 = begin(TrainOptions(threads=cfg.threads, seed=cfg.seed, bf16=cfg.bf16, device=cfg.device))
    model, tokenizer, manifest = load_model(cfg.model)
    model.to(resolve_device(cfg.device))
    cfg = dataclasses.replace(cfg, max_length=manifest.input_length(cfg.max_length))
    task = task_for(manifest.task, cfg.data_dir)
    found = [c for c in components(model, cfg.group_size) if c.kind in cfg.kinds]
    return model, tokenizer, manifest, task, Scorer(model, tokenizer, task, cfg, bf16), found


def _progress_file(folder: Path, scorer: Scorer) -> Path:
    """The folder's ``progress.jsonl``, once its ``settings.json`` shows its rows were measured as this run
    measures (same model, sample, group size, length and numerics); a new folder records this run's settings."""
    cfg = scorer.cfg
    wanted = {"model": str(Path(cfg.model).resolve()), "examples": cfg.examples, "seed": cfg.seed,
              "group_size": cfg.group_size, "max_length": cfg.max_length, "bf16": scorer.bf16}
    settings, progress = folder / "settings.json", folder / "progress.jsonl"
    if settings.exists():
        found = json.loads(settings.read_text(encoding="utf-8"))
        differ = [f"{k} {found.get(k)!r} (this run: {v!r})" for k, v in wanted.items() if found.get(k) != v]
        if differ:
            raise LeanformerError(f"{folder}: its significance rows were measured with {', '.join(differ)}; use "
                                  "another folder or the same settings (leanformer analyze --overwrite starts it anew)")
    elif progress.exists():
        raise LeanformerError(f"{folder}: {progress.name} without {settings.name}: its rows cannot be checked against "
                              "this run's settings; use another folder (leanformer analyze --overwrite starts it anew)")
    else:
        atomic_write_text(settings, json.dumps(wanted, indent=2) + "\n")
    return progress


def significance(model, scorer: Scorer, found: list[Component], group_size: int, folder: Path,
                 show_progress: bool = True) -> dict:
    """The base measurement and one row per component (loss and metric change when it alone is removed); rows
    already in ``folder`` (measured with the same settings) are reused, new ones appended there."""
    progress = _progress_file(folder, scorer)
    done = {(row["layer"], row["kind"], row["index"]): row for row in read_rows(progress)}
    base = scorer(set())
    rows = []
    with ProgressBar(len(found), "significance", enabled=show_progress) as bar:
        for c in found:
            row = done.get((c.layer, c.kind, c.index))
            if row is None:
                measured = scorer(set(), replay=True, trial=c)  # the layers before c's replay the base pass
                row = {"layer": c.layer, "kind": c.kind, "index": c.index, "component": c.name, **measured,
                       "loss_change": measured["loss"] - base["loss"], "metric_change": measured["metric"] - base["metric"],
                       **cost(model, c, group_size)}
                append_row(progress, row)
            rows.append(row)
            bar.advance(1)
    rows.sort(key=lambda r: r["loss_change"])  # least significant first
    return {"base": base, "rows": rows, "improving": [r["component"] for r in rows if r["metric_change"] > 0]}


def analyze(cfg: AnalyzeConfig) -> dict:
    """Measure every component's significance and write the ranked table and the heat map."""
    out = prepare_output_dir(cfg.output_dir, [cfg.model, cfg.data_dir], cfg.overwrite, resumable=True)
    model, _, manifest, task, scorer, found = start(cfg)
    info(f"analyze: {len(found)} components on {len(scorer.examples)} training examples")
    result = significance(model, scorer, found, cfg.group_size, out, cfg.show_progress)
    result = {"model": cfg.model, "metric": task.primary_metric, "examples": len(scorer.examples),
              "group_size": cfg.group_size, **result}
    write_table(out, result)
    return {"output_dir": str(out), "base": result["base"], "components": len(result["rows"]),
            "improving": result["improving"]}


def write_table(out, result: dict) -> None:
    atomic_write_text(out / "significance.json", json.dumps(result, indent=2) + "\n")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, ["component", "layer", "kind", "index", "loss", "loss_change", "metric",
                                     "metric_change", "parameters", "macs_per_token"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(result["rows"])
    atomic_write_text(out / "significance.csv", buffer.getvalue())
    heat_map(out / "significance.png", result["rows"], result["metric"])


def heat_map(path, rows: list[dict], metric: str) -> None:
    """Layers x components (attention, FFN, each head, each neuron group): the loss rise when removed."""
    columns = sorted({(r["kind"], r["index"]) for r in rows}, key=lambda k: (KINDS.index(k[0]), k[1]))
    layers = sorted({r["layer"] for r in rows})
    grid = np.full((len(layers), len(columns)), np.nan)
    for r in rows:
        grid[layers.index(r["layer"]), columns.index((r["kind"], r["index"]))] = r["loss_change"]
    fig, ax = figure(max(6, 0.3 * len(columns)), max(3, 0.4 * len(layers) + 1))
    image = ax.imshow(grid, aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=ax, label="loss rise when removed")
    ax.set_xticks(range(len(columns)), [k if k in ("attention", "ffn") else f"{k[0]}{i}" for k, i in columns],
                  rotation=90, fontsize=7)
    ax.set_yticks(range(len(layers)), [f"layer {i}" for i in layers])
    ax.set_title(f"Significance ({metric} task, training sample)")
    save(fig, path)
