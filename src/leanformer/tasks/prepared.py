"""Tasks on the built-in datasets: their prepared jsonl splits, or the same layout under ``--data-dir``."""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Callable

from leanformer.data.readers import read_jsonl
from leanformer.tasks.base import Example, Task, label_index


class PreparedTask(Task):
    """Subclasses name the labels, where the built-in copy comes from, and which fields hold the texts."""

    labels: tuple[str, ...] = ()
    prepare: Callable[[], Path]

    @property
    def label_names(self) -> list[str]:
        return list(self.labels)

    @property
    def data_dir(self) -> Path:
        return Path(self.config.data_dir) if self.config.data_dir else self.prepare()

    def split_path(self, split: str) -> Path:
        return self.data_dir / f"{split}.jsonl"

    @abstractmethod
    def texts(self, record: dict, path: Path, line: int) -> tuple[str, str | None]:
        """The example's text, or its pair of texts, from one record."""

    def read_file(self, path: Path) -> list[Example]:
        examples = []
        for line, rec in read_jsonl(path):
            label = rec.get("label")
            examples.append(Example(
                uid=str(rec.get("idx", line)),
                pairs=(self.texts(rec, path, line),),
                label=None if label is None else label_index(self.label_names, label, path, line, "label"),
                meta={"idx": rec.get("idx", line)},
            ))
        return examples
