"""VitaminC fact verification, from BIG-bench, split by Wikipedia page.

The BIG-bench copy has no official split. Contrastive pairs (the same evidence edited so the
verdict flips) share a page, so the split key is the page title (see ``data.prepared``): about 80/10/10.
The task file comes from the ``bigbench==1.0.0`` sdist on the package index, or, where the index no
longer serves it (PyPI withdrew it by 2026-12-06), from the BIG-bench repository; either way it must
match the same pinned sha256, so both give the same examples.
"""

from __future__ import annotations

import json
from pathlib import Path

from leanformer.data.prepared import fetch_member, prepared_dir, split_of
from leanformer.errors import LeanformerError
from leanformer.utils.fetch import PinnedFile, fetch
from leanformer.utils.progress import info

SDIST = PinnedFile("bigbench", "bigbench-1.0.0.tar.gz", "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2")
MEMBER = "bigbench/benchmark_tasks/vitaminc_fact_verification/task.json"
TASK_JSON_SHA256 = "10f83da50374701fc7ce69162a7a167b14e1a86351201aa8bf14b56fa0a3214f"
TASK_JSON = PinnedFile("BIG-bench", "vitaminc_fact_verification_task.json", TASK_JSON_SHA256,
                       url=f"https://raw.githubusercontent.com/google/BIG-bench/main/{MEMBER}")
LABELS = {"True": "SUPPORTS", "False": "REFUTES", "Neither": "NOT ENOUGH INFO"}
CLAIM_MARKER = "\nClaim: "


def convert(task_json: Path) -> dict[str, list[dict]]:
    """Turn BIG-bench's task.json into records with evidence, claim, label and title, per split."""
    examples = json.loads(task_json.read_text(encoding="utf-8"))["examples"]
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    for idx, ex in enumerate(examples):
        evidence, sep, claim = ex["input"].partition(CLAIM_MARKER)
        gold = [k for k, v in ex["target_scores"].items() if v == 1]
        if not sep or len(gold) != 1 or gold[0] not in LABELS:
            raise LeanformerError(f"{task_json}: example {idx} is not in the expected VitaminC layout")
        title = evidence.split(":", 1)[0]
        splits[split_of(title)].append(
            {"idx": idx, "title": title, "evidence": evidence, "claim": claim, "label": LABELS[gold[0]]})
    return splits


def task_json(folder: Path) -> Path:
    """The verified task file, from the sdist or else from the repository; one error naming both otherwise."""
    try:
        return fetch_member(SDIST, MEMBER, TASK_JSON_SHA256, folder)
    except LeanformerError as from_index:
        info(f"{from_index}; trying {TASK_JSON.url}")
        try:
            path = fetch(TASK_JSON)
        except LeanformerError as from_repository:
            raise LeanformerError(f"VitaminC is not available: {from_index}; and {from_repository}. Either file "
                                  "will do, or pass --data-dir with your own train/dev/test.jsonl; "
                                  "`--task polarity` needs only PyPI") from None
        return path.rename(folder / path.name)


def vitaminc_dir() -> Path:
    """The prepared dataset directory (``train/dev/test.jsonl``), fetched and split on first use."""
    def build(folder: Path) -> dict[str, list[dict]]:
        info(f"fetching the VitaminC data ({SDIST.filename}, 358 MB)")
        return convert(task_json(folder))

    return prepared_dir("vitaminc", build)
