"""Tasks: how to read a dataset, turn it into model inputs, and score it."""

from __future__ import annotations

from leanformer.errors import LeanformerError
from leanformer.tasks.base import SPLITS, Example, Task, TaskConfig
from leanformer.tasks.generic import GenericClassification
from leanformer.tasks.polarity import Polarity
from leanformer.tasks.superglue import SUPERGLUE_TASKS
from leanformer.tasks.vitaminc import VitaminC

TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (VitaminC, Polarity, GenericClassification, *SUPERGLUE_TASKS)}


def get_task(config: TaskConfig | str) -> Task:
    """Build a task from its config (or just its name, for tasks that need no options)."""
    if isinstance(config, str):
        config = TaskConfig(name=config)
    key = config.name.lower()
    if key not in TASKS:
        raise LeanformerError(f"unknown task '{config.name}'; available: {', '.join(sorted(TASKS))}")
    return TASKS[key](config)


def task_for(task: dict, data_dir: str | None = None) -> Task:
    """The task a model was trained for (its manifest's ``task``), reading data from ``data_dir`` if given."""
    config = TaskConfig.from_dict(task)
    config.data_dir = data_dir or config.data_dir
    return get_task(config)


__all__ = ["SPLITS", "TASKS", "Example", "Task", "TaskConfig", "get_task", "task_for"]
