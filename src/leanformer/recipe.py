"""The whole recipe in one call (``leanformer recipe``): teacher, student, pruned students, report.

Each step writes a leanformer model directory under ``output_dir`` and is skipped when its output
already exists, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from leanformer.bench import BenchConfig, run_bench
from leanformer.distill import DistillConfig, distill
from leanformer.models import Manifest
from leanformer.prune import PruneConfig, prune
from leanformer.tasks import TaskConfig
from leanformer.training import TrainConfig, train
from leanformer.utils.paths import prepare_output_dir
from leanformer.utils.progress import info


@dataclass
class RecipeConfig:
    output_dir: str = "runs/recipe"
    task: TaskConfig = field(default_factory=lambda: TaskConfig(name="vitaminc"))
    teacher_model: str = "all-mpnet-base-v2"
    student_model: str = "all-MiniLM-L6-v2"
    #: an already fine-tuned teacher to reuse instead of training one
    teacher: str | None = None
    train_limit: int | None = None
    #: score dev (best epoch) and test after each training step on the first N examples only
    eval_limit: int | None = None
    teacher_epochs: int = 2
    student_epochs: int = 3
    redistill_epochs: int = 1
    #: (heads, ffn) kept per layer for each pruning level, mildest first
    prune_levels: list[tuple[float, float]] = field(default_factory=lambda: [(0.5, 0.5), (0.5, 0.25)])
    split: str = "test"
    timing_examples: int = 1000
    accuracy_limit: int | None = None
    repeats: int = 3
    seed: int = 42


#: a short budget that shows every step on the built-in defaults in about 15 minutes on 2 cores
PRESETS = {
    "demo": {"train_limit": 2000, "eval_limit": 1000, "teacher_epochs": 1, "student_epochs": 2,
             "prune_levels": [(0.5, 0.5)], "timing_examples": 100, "accuracy_limit": 300, "repeats": 2},
    "full": {},
}


def _step(name: str, output: Path, run) -> str:
    if Manifest.read(output) is not None:
        info(f"recipe: {name}: {output} exists, reusing it")
    else:
        info(f"recipe: {name}")
        run(str(output))
    return str(output)


def run_recipe(cfg: RecipeConfig) -> dict:
    # a rerun continues where the last one stopped: finished steps are reused
    out = prepare_output_dir(cfg.output_dir, [cfg.teacher, cfg.task.data_dir], resumable=True)
    shared = {"train_limit": cfg.train_limit, "eval_limit": cfg.eval_limit, "seed": cfg.seed, "resume": True}
    teacher = cfg.teacher or _step("fine-tune the teacher", out / "teacher", lambda o: train(TrainConfig(
        model=cfg.teacher_model, task=cfg.task, output_dir=o, epochs=cfg.teacher_epochs, **shared)))
    student = _step("distil the student", out / "student", lambda o: distill(DistillConfig(
        teacher=teacher, student=cfg.student_model, output_dir=o, epochs=cfg.student_epochs, **shared)))
    pruned = [_step(f"prune to {h} heads / {f} FFN and re-distil", out / f"pruned-h{h}-f{f}",
                    # re-distilled from the unpruned student, as in the paper
                    lambda o, h=h, f=f: prune(PruneConfig(model=student, output_dir=o, heads=h, ffn=f,
                                                          epochs=cfg.redistill_epochs, **shared)))
              for h, f in cfg.prune_levels]
    info("recipe: benchmark every step side by side")
    return run_bench(BenchConfig(teacher=teacher, student=student, pruned=pruned, output_dir=str(out / "report"),
                                 split=cfg.split, timing_examples=cfg.timing_examples, limit=cfg.accuracy_limit,
                                 repeats=cfg.repeats, overwrite=True))
