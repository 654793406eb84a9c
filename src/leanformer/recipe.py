"""The whole recipe in one call (``leanformer recipe``): teacher, student, pruned students, report.

Each step writes a leanformer model directory under ``output_dir`` and is skipped when its output
already exists, so an interrupted run continues where it stopped.
"""

from __future__ import annotations


import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from leanformer.approx import ApproximateConfig, approximate
from leanformer.bench import BenchConfig, run_bench
from leanformer.bench.report import write_report
from leanformer.distill import DistillConfig, distill
from leanformer.errors import LeanformerError
from leanformer.models import Manifest
from leanformer.pipeline import PIPELINE
from leanformer.prune import PruneConfig, prune
from leanformer.prune.targets import parse_levels
from leanformer.tasks import TaskConfig
from leanformer.training import TrainConfig, train
from leanformer.utils.config import int_list, option
from leanformer.utils.paths import prepare_output_dir
from leanformer.utils.progress import info


@dataclass
class RecipeConfig:
    """Every step's settings; the command line sets only what it is given and the preset the rest."""

    output_dir: str = option("runs/recipe", "Folder for every step's model and the report.", flags=("--output", "-o"))
    task: TaskConfig = field(default_factory=TaskConfig)
    teacher_model: str = option("all-mpnet-base-v2", "Teacher checkpoint to fine-tune (default: the preset's).")
    #: None: the student is cut from the fine-tuned teacher (``student_depth`` or ``student_layers``)
    student_model: str | None = option(None, "Pretrained student checkpoint to distil into instead of cutting the "
                                             "student from the teacher (default: the preset's).")
    student_layers: list[int] | None = option(None, "Keep only these student layers, 0-based, e.g. 0,2,4 "
                                                    "(default: the preset's).", parse=int_list)
    student_depth: int | None = option(6, "Cut the student from the fine-tuned teacher: keep the layers whose removal "
                                          "raises the training loss most, distilled from the teacher's logits, hidden "
                                          "states and attention maps (default: the preset's).")
    teacher: str | None = option(None, "Reuse this fine-tuned teacher instead of training one.")
    train_limit: int | None = option(None, "Fine-tune the teacher on a random subset of this many training "
                                           "examples (default: the preset's).")
    distill_limit: int | None = option(None, "Distil and re-distil on a subset of this many (default: the "
                                             "preset's, else as --train-limit).")
    #: None: by model width (see ``TrainOptions``)
    teacher_learning_rate: float | None = None
    eval_limit: int | None = option(None, "Score dev (best epoch) and test after each training step on the first "
                                          "N examples only (default: the preset's).")
    teacher_epochs: int = option(2, "Teacher fine-tuning epochs (default: the preset's).")
    student_epochs: int = option(1, "Student distillation epochs (default: the preset's).")
    redistill_epochs: int = option(1, "Re-distillation epochs of each pruning step (default: the preset's).")
    #: (heads, ffn[, hidden]) kept per layer for each pruning level, mildest first
    prune_levels: list[tuple[float, ...]] = option(
        help="Pruning levels as HEADS:FFN or HEADS:FFN:HIDDEN, mildest first (default: the preset's).",
        factory=lambda: [(6, 1536, 384)], parse=parse_levels)
    prune_steps: int = option(2, "Distilled steps to reach each pruning level (default: the preset's).")
    approximate: str | None = option(None, "Also approximate the student (AxFormer): faster, smaller or accurate "
                                           "(default: the preset's, none).")
    approximate_budget: float = 0.005
    split: str = "test"
    timing_examples: int = option(1000, "Examples the report times at batch size 1 (default: the preset's).")
    accuracy_limit: int | None = option(None, "The report scores the first N examples only (default: the "
                                              "preset's).")
    repeats: int = 3
    seed: int = 42

    def __post_init__(self):
        if self.student_model is None and self.student_layers is None and self.student_depth is None:
            raise LeanformerError("no student: give --student-model, --student-layers or --student-depth")

    @property
    def student_source(self) -> str:
        """Where the student comes from, first given first: a pretrained model, chosen layers, or a depth."""
        return "model" if self.student_model else "layers" if self.student_layers else "depth"

    @classmethod
    def preset(cls, name: str, **overrides) -> "RecipeConfig":
        """The preset's settings with ``overrides``; naming any student source replaces the preset's."""
        if name not in PRESETS:
            raise LeanformerError(f"unknown preset '{name}'; expected one of {', '.join(PRESETS)}")
        settings = dict(PRESETS[name])
        if any(overrides.get(k) is not None for k in STUDENT_SOURCES):
            settings.update(dict.fromkeys(STUDENT_SOURCES))
        if isinstance(overrides.get("task"), dict):  # some task fields: the rest stay the preset's
            overrides["task"] = replace(settings.get("task", TaskConfig()), **overrides["task"])
        return cls(**{**settings, **overrides})


STUDENT_SOURCES = ("student_model", "student_layers", "student_depth")


PRESET_HELP = ("demo is a short budget (about 10 minutes on 2 cores: a MiniLM teacher on the built-in sentence "
               "polarity data and a 3-layer student cut from it); full trains the MPNet-base teacher on VitaminC, "
               "cuts a 6-layer student from it by measured layer importance and narrows that in two distilled "
               "steps (hours).")
PRESETS = {
    # The budget of `make demo` (minutes on 2 cores): every step, with models that learn, on data the package
    # index serves (VitaminC's sdist was withdrawn from PyPI, and VitaminC needs tens of thousands of examples
    # and hours before a cross-encoder beats the majority class). The 6-layer MiniLM is fine-tuned as the
    # teacher on the 3,212 training sentences, 3 epochs, and a 3-layer student is cut from its layers, as
    # DistilBERT does. `full` is the frontier's method on VitaminC: the MPNet-base teacher, a student cut from
    # it by measured layer importance, then narrowed (hidden width, heads, FFN) in distilled steps, every step
    # distilled from the teacher. Measurements: docs/benchmarks.md.
    "demo": {"task": TaskConfig(name="polarity"), "teacher_model": "all-MiniLM-L6-v2", "student_layers": [0, 2, 4],
             "student_depth": None, "eval_limit": 1000, "teacher_epochs": 3, "student_epochs": 3,
             "redistill_epochs": 3, "prune_levels": [(0.5, 0.5)], "prune_steps": 1, "timing_examples": 100,
             "accuracy_limit": 1000, "repeats": 2},
    "full": {},
}


def _producers(cfg: RecipeConfig, models: dict, out: Path):
    """Each pipeline stage's models: (title, output folder, how to make it; None when given)."""
    common = {"eval_limit": cfg.eval_limit, "seed": cfg.seed, "resume": True}
    limit = cfg.distill_limit or cfg.train_limit
    # a student cut from the teacher shares its tokenizer and its channels: it learns its hidden states too
    from_teacher = {"hidden_weight": 1.0, "attention_weight": 1.0} if cfg.student_source == "depth" else {}
    return {
        "teacher": lambda: [("fine-tune the teacher", cfg.teacher, None)] if cfg.teacher else [
            ("fine-tune the teacher", out / "teacher", lambda o: train(TrainConfig(
                model=cfg.teacher_model, task=cfg.task, output_dir=o, epochs=cfg.teacher_epochs,
                train_limit=cfg.train_limit, learning_rate=cfg.teacher_learning_rate, **common)))],
        "student": lambda: [("cut the student from the teacher", out / "student", lambda o: prune(PruneConfig(
            model=models["teacher"][0], output_dir=o, layers=cfg.student_depth, epochs=cfg.student_epochs,
            train_limit=limit, **from_teacher, **common)))] if cfg.student_source == "depth" else [
            ("distil the student", out / "student", lambda o: distill(DistillConfig(
                teacher=models["teacher"][0], student=cfg.student_model, student_layers=cfg.student_layers,
                output_dir=o, epochs=cfg.student_epochs, train_limit=limit, **common)))],
        # re-distilled from the unpruned student, as in the paper; from the teacher, with its hidden states and
        # attention maps, when the student was cut from it
        "pruned": lambda: [(f"prune to {'/'.join(map(str, level))} (heads/FFN/hidden) and re-distil",
                            out / ("pruned-" + "-".join(f"{k}{v}" for k, v in zip("hfd", level))),
                            lambda o, level=level: prune(PruneConfig(
                                model=models["student"][0], output_dir=o, heads=level[0], ffn=level[1],
                                hidden=level[2] if len(level) > 2 else None, steps=cfg.prune_steps,
                                epochs=cfg.redistill_epochs, train_limit=limit,
                                **(dict(from_teacher, teacher=models["teacher"][0], learning_rate=1e-4)
                                   if from_teacher else {}),  # the frontier's width steps ran at 1e-4
                                **common)))
                           for level in cfg.prune_levels],
        "approximated": lambda: [(f"approximate the student ({cfg.approximate})", out / f"approx-{cfg.approximate}",
                                  lambda o: approximate(ApproximateConfig(
                                      model=models["student"][0], output_dir=o, goal=cfg.approximate,
                                      budget=cfg.approximate_budget, seed=cfg.seed)))] if cfg.approximate else [],
    }


def _step(title: str, output, run, times: list[dict]) -> str:
    """Make one model unless it exists (a rerun continues where the last one stopped)."""
    if run is None:
        return str(output)
    start = time.perf_counter()
    reused = Manifest.read(output) is not None
    if reused:
        info(f"recipe: {title}: {output} exists, reusing it")
    else:
        info(f"[bold]recipe: {title}[/]")
        run(str(output))
    seconds = round(time.perf_counter() - start, 1)
    times.append({"step": title, "seconds": seconds, "reused": reused})
    if not reused:
        info(f"recipe: {title}: done in {seconds:.0f} s")
    return str(output)


def run_recipe(cfg: RecipeConfig) -> dict:
    """Every pipeline stage in order, then the side-by-side report of all of them."""
    out = prepare_output_dir(cfg.output_dir, [cfg.teacher, cfg.task.data_dir], resumable=True)
    models: dict[str, list[str]] = {}
    times: list[dict] = []
    for stage in PIPELINE:  # producers read the models of the stages before them
        models[stage.role] = [_step(*job, times) for job in _producers(cfg, models, out)[stage.role]()]
    start = time.perf_counter()
    info("[bold]recipe: benchmark every step side by side[/]")
    result = run_bench(BenchConfig(**{s.role: models[s.role] if s.many else models[s.role][0] for s in PIPELINE},
                                   output_dir=str(out / "report"), split=cfg.split,
                                   timing_examples=cfg.timing_examples, limit=cfg.accuracy_limit, repeats=cfg.repeats,
                                   overwrite=True))
    times.append({"step": "benchmark", "seconds": round(time.perf_counter() - start, 1), "reused": False})
    result = {**result, "recipe_steps": times}
    write_report(out / "report", result)
    return result
