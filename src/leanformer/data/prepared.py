"""Built-in datasets: fetched once from a pinned file, split by a fixed rule, kept as jsonl in the cache.

The split is a function of each example's key (sha256 mod 10: 0 dev, 1 test, the rest train), so it
needs no seed and every machine gets the same split; the folder appears only once complete.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Callable

from leanformer.errors import LeanformerError
from leanformer.utils.fetch import PinnedFile, fetch, verify_sha256
from leanformer.utils.paths import atomic_dir, cache_dir
from leanformer.utils.progress import info


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def split_of(key: str) -> str:
    return {0: "dev", 1: "test"}.get(int(digest(key), 16) % 10, "train")


def extract(archive: Path, member: str, sha256: str, folder: Path) -> Path:
    """``member`` of a tar archive written into ``folder`` and checked against its pinned sha256."""
    with tarfile.open(archive) as tar:
        found = next((m for m in tar if m.name.endswith(member)), None)
        if found is None:
            raise LeanformerError(f"{archive}: does not contain {member}")
        path = folder / Path(member).name
        path.write_bytes(tar.extractfile(found).read())
    verify_sha256(path, sha256)
    return path


def fetch_member(archive: PinnedFile, member: str, sha256: str, folder: Path) -> Path:
    """A verified member of a pinned archive; the archive is deleted once the member is out."""
    path = fetch(archive)
    member_path = extract(path, member, sha256, folder)
    path.unlink()
    return member_path


def prepared_dir(name: str, build: Callable[[Path], dict[str, list[dict]]]) -> Path:
    """The cached ``train/dev/test.jsonl`` folder of dataset ``name``; ``build(scratch)`` makes the records."""
    target = cache_dir("datasets") / name
    if (target / "test.jsonl").is_file():
        return target
    with atomic_dir(target) as tmp:
        splits = build(tmp)
        for leftover in tmp.iterdir():
            leftover.unlink()  # the source files: only the converted splits are kept
        for split, records in splits.items():
            with open(tmp / f"{split}.jsonl", "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    info(f"{name} prepared: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()) + f" examples in {target}")
    return target
