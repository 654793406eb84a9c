"""Fine-tuning a model on a task with its labels (``leanformer train``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from leanformer.models import Manifest, load_for_task
from leanformer.tasks import TaskConfig, get_task
from leanformer.training.loop import Run, begin, cross_entropy, fit
from leanformer.training.options import TrainOptions
from leanformer.utils.config import option
from leanformer.utils.device import resolve_device
from leanformer.utils.paths import check_output


@dataclass(kw_only=True)
class TrainConfig(TrainOptions):
    model: str = option(help="Built-in name (all-MiniLM-L6-v2, all-mpnet-base-v2), local directory or hub id.",
                        flags=("--model", "-m"))
    task: TaskConfig = field(default_factory=TaskConfig)
    output_dir: str = option(help="Directory to write the fine-tuned model to.", flags=("--output", "-o"))


def train(cfg: TrainConfig) -> dict:
    """Fine-tune ``cfg.model`` on ``cfg.task``; returns the final metrics and where the model is."""
    begin(cfg)
    check_output(cfg.output_dir, [cfg.model, cfg.task.data_dir], cfg.overwrite)
    task = get_task(cfg.task)
    # read and validate the data before anything is loaded or written
    train_examples = task.read_for_training(cfg.train_limit, cfg.seed)
    model, tokenizer, manifest = load_for_task(cfg.model, task.label_names, task.multiple_choice)
    model.to(resolve_device(cfg.device))
    manifest = manifest or Manifest(task=cfg.task.to_dict(), label_names=task.label_names,
                                    multiple_choice=task.multiple_choice)
    return fit(Run(model=model, tokenizer=tokenizer, task=task, train_examples=train_examples, options=cfg,
                   output_dir=cfg.output_dir, loss=cross_entropy, manifest=manifest, step="train",
                   details={"source": str(cfg.model), "config": cfg.to_dict()}))
