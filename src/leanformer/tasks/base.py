"""What a task is: examples made of text pairs, label names, and its official metrics."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leanformer.data.example import Example
from leanformer.errors import DataError, LeanformerError
from leanformer.utils.config import option, str_list

SPLITS = ("train", "dev", "test")


@dataclass
class TaskConfig:
    """Everything needed to rebuild a task; stored in each model's manifest."""

    name: str = option("vitaminc", lambda: f"Task: {', '.join(_registered())} (vitaminc and polarity are built in; "
                                           "generic reads your CSV/TSV/JSONL files).", flags=("--task", "-t"))
    data_dir: str | None = option(None, "Folder with the task's files (train/dev/test). The built-in tasks "
                                        "default to their built-in copy.")
    text_column: str = option("text", "generic task: column with the (first) text.")
    text_pair_column: str | None = option(None, "generic task: column with the second text of a pair.")
    label_column: str = option("label", "generic task: column with the label.")
    labels: list[str] | None = option(None, "generic task: comma-separated label names (default: found in the "
                                            "training file).", parse=str_list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TaskConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _registered() -> list[str]:
    from leanformer.tasks import TASKS  # the registry imports this module: read it when help is shown

    return list(TASKS)


class Task(ABC):
    """A dataset plus how to score predictions on it.

    Subclasses read their own file layout in :meth:`read_split`; the base class caches splits,
    checks that labelled splits have labels, and turns logits into metrics.
    """

    name: str = ""
    multiple_choice: bool = False
    #: names of the metrics, the first being the one used to pick the best checkpoint
    metric_names: tuple[str, ...] = ("accuracy",)

    def __init__(self, config: TaskConfig):
        self.config = config
        self._cache: dict[str, list[Example]] = {}

    @property
    @abstractmethod
    def label_names(self) -> list[str]:
        """Output classes of the model (for multiple choice: one score per choice, one name)."""

    @property
    def data_dir(self) -> Path:
        if not self.config.data_dir:
            raise LeanformerError(f"task '{self.name}' needs a data directory (--data-dir)")
        path = Path(self.config.data_dir)
        if not path.is_dir():
            raise LeanformerError(f"data directory not found: {path}")
        return path

    @abstractmethod
    def split_path(self, split: str) -> Path:
        """Where a split lives on disk."""

    @abstractmethod
    def read_file(self, path: Path) -> list[Example]:
        """Read examples from one file in the task's format (labels optional)."""

    def read_split(self, split: str) -> list[Example]:
        return self.read_file(self.split_path(split))

    def has_split(self, split: str) -> bool:
        """Whether the split's file exists (a task may ship without a test split)."""
        try:
            return self.split_path(split).is_file()
        except LeanformerError:
            return False

    def read_for_training(self, train_limit: int | None, seed: int, test: bool = True) -> list[Example]:
        """Read and validate every split a training run will use, before any model is loaded.

        Returns the (seeded) training subset; dev must exist, and test (scored at the end) is read when
        present, so a broken file stops the run now rather than after hours of training.
        """
        examples = self.examples("train")
        self.examples("dev")
        if test and self.has_split("test"):
            self.examples("test")
        if not train_limit or train_limit >= len(examples):
            return examples
        idx = np.sort(np.random.default_rng(seed).choice(len(examples), size=train_limit, replace=False))
        return [examples[i] for i in idx]

    def examples(self, split: str) -> list[Example]:
        if split not in SPLITS:
            raise LeanformerError(f"unknown split '{split}'; expected one of {', '.join(SPLITS)}")
        if split not in self._cache:
            examples = self.read_split(split)
            if not examples:
                raise LeanformerError(f"task '{self.name}': split '{split}' has no examples")
            self._cache[split] = examples
        return self._cache[split]

    @property
    def primary_metric(self) -> str:
        return self.metric_names[0]

    def predict(self, examples: list[Example], logits: np.ndarray) -> np.ndarray:
        """Per-example predicted class (or choice) index."""
        return np.asarray(logits).argmax(-1)

    def compute_metrics(self, examples: list[Example], logits: np.ndarray) -> dict[str, float]:
        """Official metric(s) of the task; the default is accuracy."""
        labels = labels_of(examples, self.name)
        return {"accuracy": float((self.predict(examples, logits) == labels).mean())}

    def submission(self, examples: list[Example], logits: np.ndarray) -> list[dict]:
        """Prediction records in the task's submission format (``idx`` + ``label``)."""
        preds = self.predict(examples, logits)
        return [{"idx": ex.meta.get("idx", ex.uid), "label": self.label_names[p]} for ex, p in zip(examples, preds)]


def labels_of(examples: list[Example], task_name: str) -> np.ndarray:
    if any(ex.label is None for ex in examples):
        raise LeanformerError(f"task '{task_name}': these examples have no labels (a test split?); metrics need labels")
    return np.array([ex.label for ex in examples])


def label_index(label_names: list[str], value, path, line: int, field_name: str) -> int:
    """Map a raw label (str, int or bool) to its index, with a clear error when it is not in the set."""
    key = str(value).lower() if isinstance(value, bool) else str(value)
    try:
        return label_names.index(key)
    except ValueError:
        raise DataError(path, f"label {value!r} is not in the label set {label_names}", line=line, field=field_name) from None
