"""Any single-text or text-pair classification data in CSV, TSV or JSONL files."""

from __future__ import annotations

from pathlib import Path

from leanformer.data.readers import FORMATS, read_records, require
from leanformer.errors import DataError, LeanformerError
from leanformer.tasks.base import Example, Task, label_index

#: file stems accepted for each split, in order of preference
SPLIT_STEMS = {"train": ("train",), "dev": ("dev", "val", "validation"), "test": ("test",)}


class GenericClassification(Task):
    """Reads ``<split>.{csv,tsv,jsonl}`` from the data directory.

    Columns are configurable (``text_column``, ``text_pair_column``, ``label_column``). Labels
    are given explicitly or discovered from the training file (sorted, as strings).
    """

    name = "generic"

    def __init__(self, config):
        super().__init__(config)
        self._labels = list(config.labels) if config.labels else None

    def split_path(self, split: str) -> Path:
        for stem in SPLIT_STEMS[split]:
            for ext in FORMATS:
                path = self.data_dir / f"{stem}{ext}"
                if path.is_file():
                    return path
        names = ", ".join(f"{s}{{{','.join(FORMATS)}}}" for s in SPLIT_STEMS[split])
        raise LeanformerError(f"no {split} file in {self.data_dir}; expected one of {names}")

    @property
    def label_names(self) -> list[str]:
        if self._labels is None:
            path, column = self.split_path("train"), self.config.label_column
            found = set()
            for line, rec in read_records(path):
                value = rec.get(column)
                if value is None or value == "":
                    raise DataError(path, "missing label", line=line, field=column)
                label = str(value).lower() if isinstance(value, bool) else str(value)
                if "\n" in label or "\r" in label or label != label.strip():
                    raise DataError(path, f"implausible label {label!r:.60} (a line break or stray spaces: "
                                          "an unbalanced quote earlier in the file?)", line=line, field=column)
                found.add(label)
            if len(found) < 2:
                raise DataError(path, f"need at least 2 distinct labels to classify, found {sorted(found)}", field=column)
            self._labels = sorted(found)
        return self._labels

    def read_split(self, split: str) -> list[Example]:
        examples = self.read_file(self.split_path(split))
        if split != "test":
            missing = next((ex for ex in examples if ex.label is None), None)
            if missing is not None:
                raise DataError(self.split_path(split), "missing label", line=missing.meta["line"],
                                field=self.config.label_column)
        return examples

    def read_file(self, path: Path) -> list[Example]:
        cfg = self.config
        examples = []
        for row, (line, rec) in enumerate(read_records(path)):
            text = _text(rec, cfg.text_column, path, line)
            pair = _text(rec, cfg.text_pair_column, path, line) if cfg.text_pair_column else None
            raw_label = rec.get(cfg.label_column)
            label = None if raw_label in (None, "") else label_index(self.label_names, raw_label, path, line, cfg.label_column)
            idx = rec.get("idx", rec.get("id", row))  # without an id column: the 0-based row index
            examples.append(Example(uid=str(idx), pairs=((text, pair),), label=label, meta={"idx": idx, "line": line}))
        return examples


def _text(record: dict, column: str, path: Path, line: int) -> str:
    """A text cell; an empty one is an error everywhere (skipping the row would misalign predictions with inputs)."""
    text = str(require(record, column, path, line, (str, int, float)))
    if not text.strip():
        raise DataError(path, "empty text", line=line, field=column)
    return text
