"""VitaminC: does the Wikipedia evidence support, refute, or not decide the claim?"""

from __future__ import annotations

from pathlib import Path

from leanformer.data.readers import read_jsonl, require
from leanformer.data.vitaminc import LABELS, vitaminc_dir
from leanformer.tasks.base import Example, Task, label_index


class VitaminC(Task):
    name = "vitaminc"

    @property
    def label_names(self) -> list[str]:
        return list(LABELS.values())

    @property
    def data_dir(self) -> Path:
        return Path(self.config.data_dir) if self.config.data_dir else vitaminc_dir()

    def split_path(self, split: str) -> Path:
        return self.data_dir / f"{split}.jsonl"

    def read_file(self, path: Path) -> list[Example]:
        examples = []
        for line, rec in read_jsonl(path):
            label = rec.get("label")
            examples.append(Example(
                uid=str(rec.get("idx", line)),
                pairs=((require(rec, "evidence", path, line), require(rec, "claim", path, line)),),
                label=None if label is None else label_index(self.label_names, label, path, line, "label"),
                meta={"idx": rec.get("idx", line)},
            ))
        return examples
