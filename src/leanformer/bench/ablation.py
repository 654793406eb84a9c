"""The cumulative ablation of FastFormers' Table 3, measured side by side in one run (``leanformer bench``).

Rows: (1) the teacher in PyTorch fp32 with every input padded to a fixed length (the paper's
baseline); (2) + dynamic sequence length; (3) + distillation; (4) + int8 and ONNX Runtime graph
optimisation; (5) + multi-instance inference; (6) + structured pruning. Peers: the teacher through
ONNX Runtime's stock optimizer and per-channel int8 (the Optimum recipe), and the student with
PyTorch's own dynamic int8 (torchao), OpenVINO int8 and CTranslate2 int8 (each where it is installed and
can run the student). Timing uses one fixed sample at batch size 1, in rounds that time every row once
(warm-up, then the median over rounds); accuracy uses the whole split with each row's own model and numerics.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leanformer.bench.costs import Price, speedups, usd_per_100m
from leanformer.bench.energy import EnergyMeter
from leanformer.bench.machine import machine_info
from leanformer.bench.report import write_report
from leanformer.bench.systems import System
from leanformer.errors import LeanformerError
from leanformer.models import Manifest
from leanformer.models.anatomy import max_sequence_length
from leanformer.models.loading import load_config
from leanformer.pipeline import PEER, PIPELINE, ROW_KINDS
from leanformer.quantize import export_int8
from leanformer.quantize.ctranslate2 import to_ctranslate2
from leanformer.runtime.tune import settings
from leanformer.tasks import task_for
from leanformer.utils.config import DATA_DIR_HELP, option, str_list
from leanformer.utils.cpu import physical_cores
from leanformer.utils.paths import prepare_output_dir
from leanformer.utils.progress import ProgressBar, info


@dataclass
class BenchConfig:
    teacher: str = option(help="Fine-tuned PyTorch teacher (leanformer model directory).")
    student: str = option(help="Distilled PyTorch student.")
    output_dir: str = option(help="Folder for the report (report.md/.csv/.json, plots) and the exported models.",
                             flags=("--output", "-o"))
    pruned: list[str] = option(help="Comma-separated pruned (re-distilled) students, mildest first: a row each.",
                               factory=list, parse=str_list)
    approximated: list[str] = option(help="Comma-separated approximated students (leanformer approximate): a row "
                                          "each.", factory=list, parse=str_list)
    split: str = option("test", "The split scored and timed.")
    data_dir: str | None = option(None, DATA_DIR_HELP)
    timing_examples: int = option(1000, "Examples timed at batch size 1 (the same for every row).")
    repeats: int = option(3, "Timed passes per row; the median is reported.")
    warmup: int = option(20, "Untimed queries before each row's timing.")
    limit: int | None = option(None, "Score accuracy on the first N examples only (quick runs).")
    baseline_length: int = option(512, "The baseline row pads every input to this many tokens.")
    max_length: int | None = option(None, "Truncate inputs to this many tokens (default: each model's own).")
    usd_per_hour: float = option(0.677, "Hourly price of the priced machine (default: Azure F16s_v2).")
    machine_cores: int = option(16, "Cores of the priced machine; the price is prorated to the cores used.")
    price_name: str = option("Azure F16s_v2", "Name of the priced machine, for the report.")
    watts_per_core: float = option(10.0, "For the energy estimate when RAPL counters cannot be read.")
    peers: bool = option(True, "Also measure the peers (Optimum-style int8 teacher, torchao int8 student).",
                         flags=("--peers/--no-peers",))
    show_progress: bool = option(True, "Progress bars.", cli=False)
    overwrite: bool = option(False, "Replace the report in an earlier bench output (its exported models are reused "
                                    "either way).", flags=("--overwrite",))


@dataclass
class RowSpec:
    name: str
    model: str
    kind: str
    instances: int = 1
    threads: int | None = None
    fixed_length: int | None = None
    max_length: int | None = None
    torch_int8: bool = False

    def __post_init__(self):
        if self.kind not in ROW_KINDS:
            raise ValueError(f"unknown row kind {self.kind!r}")


def _best_instances(model: str, features_source: list, cfg: BenchConfig) -> tuple[int, int]:
    """The (instances, threads) that processes the timing sample fastest at batch size 1."""
    best, best_time = (1, physical_cores()), float("inf")
    sample = features_source[: min(200, len(features_source))]
    for instances, threads in settings(physical_cores()):
        system = System(model, threads, instances, max_length=cfg.max_length)
        try:
            features = system.features(sample)
            system.timed_pass(features[: cfg.warmup])
            start = time.perf_counter()
            system.timed_pass(features)
            seconds = time.perf_counter() - start
        finally:
            system.close()
        info(f"bench: {instances} instances x {threads} threads: {seconds:.2f}s for {len(sample)} queries")
        if seconds < best_time:
            best, best_time = (instances, threads), seconds
    return best


def measure_rows(specs: list[RowSpec], examples: list, timing: list, task, *, warmup: int = 20, repeats: int = 3,
                 watts_per_core: float = 10.0, show_progress: bool = True,
                 twins: dict[int, int] | None = None) -> list[dict]:
    """Each row: the task metric on ``examples`` (batched) and the median time of single queries over ``timing``.

    Timing goes in rounds, every row timed once per round after its own warm-up: a busy phase of a shared
    machine then slows the rows of one round alike instead of every pass of a few rows, and the ratios between
    rows, which the report quotes, stay steadier than when each row's passes run back to back.

    ``twins``: row index -> index of a row of the same model and numerics without padding. Masked padding does not
    change the logits, so instead of a slow padded accuracy pass the timed queries' logits are compared with the
    twin's; when every prediction agrees its metric is reused (and the check recorded), otherwise the full pass runs.
    """
    twins = twins or {}
    systems = []
    try:
        for spec in specs:
            systems.append(System(spec.model, spec.threads, spec.instances, spec.fixed_length, spec.max_length,
                                  spec.torch_int8))
        passes, joules, sources, timing_logits = _timed_rounds(systems, timing, warmup, repeats, watts_per_core,
                                                               show_progress)
        rows: list[dict | None] = [None] * len(specs)
        for i in sorted(range(len(specs)), key=lambda i: i in twins):  # twins before the rows that reuse them
            spec = specs[i]
            row = {"row": spec.name, "kind": spec.kind, "peer": spec.kind == PEER, "model": spec.model,
                   "seconds": statistics.median(passes[i]),
                   "cores": spec.instances * (spec.threads or physical_cores()) if spec.instances > 1 else physical_cores(),
                   "joules": joules[i] / repeats, "energy_source": sources[i], "timing_logits": timing_logits[i]}
            twin = rows[twins[i]] if i in twins else None
            if twin is not None and _same_predictions(timing_logits[i], twin["timing_logits"]):
                diff = float(np.abs(timing_logits[i] - twin["timing_logits"]).max())
                rows[i] = row | {"metric": twin["metric"], "metrics": twin["metrics"],
                                 "accuracy_note": f"metric of '{twin['row']}': same predictions on the {len(timing)} "
                                                  f"timed queries (max logit difference {diff:.1e})"}
                continue
            features = systems[i].features(examples)
            with ProgressBar(len(features), f"accuracy: {spec.name}", enabled=show_progress) as bar:
                start = time.perf_counter()
                logits = systems[i].logits(features, bar.advance)
                batched = len(features) / (time.perf_counter() - start)  # the accuracy pass is the batched workload
            metrics = task.compute_metrics(examples, logits)
            rows[i] = row | {"metric": metrics[task.primary_metric], "metrics": metrics,
                             "batched_queries_per_second": batched}
    finally:
        for system in systems:
            system.close()
    return rows


def _timed_rounds(systems: list[System], timing: list, warmup: int, repeats: int, watts_per_core: float,
                  show_progress: bool) -> tuple[list[list[float]], list[float], list, list]:
    """Per system: the seconds of each timed pass, joules summed over passes, the energy source and the last
    pass's logits; every round times each system once, after its own warm-up."""
    n = len(systems)
    timed = [system.features(timing) for system in systems]
    passes, joules, sources, logits = [[] for _ in systems], [0.0] * n, [None] * n, [None] * n
    with ProgressBar(repeats * n, "timing (rounds x rows)", enabled=show_progress) as bar:
        for _ in range(repeats):
            for i, (system, features) in enumerate(zip(systems, timed)):
                system.timed_pass(features[:warmup])
                with EnergyMeter(watts_per_core, system.worker_pids) as energy:
                    start = time.perf_counter()
                    logits[i] = system.timed_pass(features)
                    passes[i].append(time.perf_counter() - start)
                joules[i] += energy.joules
                sources[i] = energy.source
                bar.advance(1)
    return passes, joules, sources, logits


def _same_predictions(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool((a.argmax(-1) == b.argmax(-1)).all())


def run_bench(cfg: BenchConfig) -> dict:
    """Measure every row, then write the report (Markdown, CSV, JSON, plots) to ``cfg.output_dir``."""
    manifest = Manifest.read(cfg.teacher)
    if manifest is None or Manifest.read(cfg.student) is None:
        raise LeanformerError("bench needs a fine-tuned teacher and a student (leanformer model directories)")
    out = prepare_output_dir(cfg.output_dir, [cfg.teacher, cfg.student, *cfg.pruned, *cfg.approximated, cfg.data_dir],
                             cfg.overwrite)
    task = task_for(manifest.task, cfg.data_dir)
    examples = task.examples(cfg.split)[: cfg.limit]
    timing = examples[: cfg.timing_examples]
    work = out / "models"
    work.mkdir(parents=True, exist_ok=True)
    specs = _pipeline_rows(cfg, work, timing)
    if cfg.peers:
        specs.append(RowSpec("peer: teacher, ONNX Runtime stock optimizer + per-channel int8 (Optimum recipe)",
                             export_int8(cfg.teacher, work, "teacher-standard", recipe="standard", data_dir=cfg.data_dir),
                             PEER, max_length=cfg.max_length))
        specs.append(RowSpec("peer: student, PyTorch dynamic int8 (torchao)", cfg.student, PEER,
                             max_length=cfg.max_length, torch_int8=True))
        openvino = _openvino_student(work, cfg)
        if openvino:
            specs.append(RowSpec("peer: student, OpenVINO int8 (NNCF post-training quantization)", openvino, PEER,
                                 max_length=cfg.max_length))
        target = work / "student-ctranslate2-int8"
        ctranslate2 = _peer_model("CTranslate2", lambda: to_ctranslate2(cfg.student, str(target), overwrite=True),
                                  target)
        if ctranslate2:
            specs.append(RowSpec("peer: student, CTranslate2 int8", ctranslate2, PEER, max_length=cfg.max_length))
    settings_ = {"warmup": cfg.warmup, "repeats": cfg.repeats, "watts_per_core": cfg.watts_per_core,
                 "show_progress": cfg.show_progress}
    # padded rows reuse the accuracy of their unpadded twin (same model and numerics) when the timed answers agree
    unpadded = {(s.model, s.torch_int8): i for i, s in enumerate(specs) if not s.fixed_length}
    twins = {i: unpadded[(s.model, s.torch_int8)] for i, s in enumerate(specs)
             if s.fixed_length and (s.model, s.torch_int8) in unpadded}
    rows = measure_rows(specs, examples, timing, task, **settings_, twins=twins)
    teacher = next(r for r in rows if r["kind"] == "teacher")  # the teacher's own answers (dynamic length, fp32)
    for r in rows:
        del r["timing_logits"]
    price = Price(cfg.usd_per_hour, cfg.machine_cores, cfg.price_name)
    ablation = [r for r in rows if not r["peer"]]
    cumulative, step = speedups([r["seconds"] for r in ablation])
    for r, c, s in zip(ablation, cumulative, step):
        r["cumulative_speedup"], r["step_speedup"] = c, s
    for r in rows:
        r["vs_teacher"] = r["metric"] - teacher["metric"]
        r["usd_per_100m"] = usd_per_100m(r["seconds"], len(timing), price, r["cores"])
        r["queries_per_second"] = len(timing) / r["seconds"]
        if r["peer"]:
            r["cumulative_speedup"], r["step_speedup"] = rows[0]["seconds"] / r["seconds"], None
    labels = [ex.label for ex in examples if ex.label is not None]
    result = {"task": task.name, "split": cfg.split, "metric": task.primary_metric, "accuracy_examples": len(examples),
              "majority_share": max(labels.count(v) for v in set(labels)) / len(labels) if labels else None,
              "timing_examples": len(timing), "repeats": cfg.repeats, "price": vars(price) | {
                  "usd_per_hour_prorated": price.per_hour(physical_cores())}, "machine": machine_info(), "rows": rows}
    write_report(out, result)
    return result


def _openvino_student(work: Path, cfg: BenchConfig) -> str | None:
    """The student's fp32 export converted and quantized by OpenVINO, when the extra is installed."""
    from leanformer.quantize.openvino import OpenVinoConfig, to_openvino

    target = work / "student-openvino-int8"

    def make() -> str:
        to_openvino(OpenVinoConfig(model=str(work / "student-fp32"), output_dir=str(target), overwrite=True,
                                   max_length=cfg.max_length, data_dir=cfg.data_dir))
        return str(target)

    return _peer_model("OpenVINO", make, target)


def _peer_model(runtime: str, make, target: Path | None = None) -> str | None:
    """A peer runtime's model (reused from an earlier run at ``target``), or None with the reason when the runtime
    is not installed or cannot run this student."""
    if target is not None and Manifest.read(target) is not None:
        return str(target)
    try:
        return make()
    except LeanformerError as e:
        info(f"bench: no {runtime} peer row ({e})")
        return None


def _pipeline_rows(cfg: BenchConfig, work: Path, timing: list) -> list[RowSpec]:
    """The rows of every pipeline stage for the models given for it, in pipeline order."""
    baseline = min(cfg.baseline_length, max_sequence_length(load_config(cfg.teacher)))
    pool: tuple[int, int] | None = None
    specs = []
    for stage in PIPELINE:
        models = getattr(cfg, stage.role)
        for i, model in enumerate(models if stage.many else [models] if models else []):
            name = f"{stage.role}{i + 1}" if stage.many else stage.role
            int8 = export_int8(model, work, name, data_dir=cfg.data_dir) if any(r.int8 for r in stage.rows) else None
            for row in stage.rows:
                if row.tuned and pool is None:  # one pool for every tuned row: the fastest for the first of them
                    pool = _best_instances(int8, timing, cfg)
                instances, threads = pool if row.tuned else (1, None)
                label = row.label.format(baseline=baseline, instances=instances, threads=threads, name=Path(model).name)
                specs.append(RowSpec(label, int8 if row.int8 else model, row.kind, instances, threads,
                                     fixed_length=baseline if row.padded else None,
                                     max_length=baseline if row.padded else cfg.max_length))
    return specs
