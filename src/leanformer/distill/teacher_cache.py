"""Teacher logits computed once per training example and kept on disk.

A frozen teacher gives the same logits every epoch, so computing them once is the cheapest way to
distil on a CPU, and it is what makes a student with another tokenizer possible (the teacher
reads each example with its own tokenizer). Entries are keyed by the example's text, so they are
reused across epochs, runs, training subsets and students.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from leanformer.models.inference import predict_logits
from leanformer.tasks import Example
from leanformer.data.features import encode
from leanformer.utils.fetch import sha256_of
from leanformer.utils.paths import cache_dir
from leanformer.utils.progress import info


def example_key(example: Example) -> bytes:
    return hashlib.sha1(json.dumps(example.pairs, ensure_ascii=False).encode("utf-8")).digest()


def model_fingerprint(model_dir: str | Path) -> str:
    """sha256 of the weights file, memoised by (size, mtime) so it is computed once per model."""
    weights = Path(model_dir) / "model.safetensors"
    stat = weights.stat()
    memo = cache_dir("fingerprints") / hashlib.sha1(f"{weights.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
    if memo.is_file():
        return memo.read_text().strip()
    digest = sha256_of(weights)
    memo.write_text(digest)
    return digest


#: examples per saved chunk of new teacher logits
SAVE_EVERY = 2000


class TeacherLogits:
    """Logits of one teacher at one max length and precision, cached under the user cache dir."""

    def __init__(self, teacher, tokenizer, teacher_dir: str | Path, max_length: int, multiple_choice: bool,
                 bf16: bool, batch_size: int = 64, show_progress: bool = True):
        self.teacher, self.tokenizer = teacher, tokenizer
        self.max_length, self.multiple_choice, self.bf16 = max_length, multiple_choice, bf16
        self.batch_size, self.show_progress = batch_size, show_progress
        name = f"{model_fingerprint(teacher_dir)[:32]}-len{max_length}-{'bf16' if bf16 else 'fp32'}.safetensors"
        self.path = cache_dir("teacher-logits") / name
        #: teacher forward passes made by this object (examples), for reporting and tests
        self.computed = 0

    def _load(self) -> dict[bytes, np.ndarray]:
        if not self.path.is_file():
            return {}
        blob = load_file(self.path)
        keys, logits = blob["keys"].numpy(), blob["logits"].numpy()
        return {k.tobytes(): row for k, row in zip(keys, logits)}

    def _save(self, table: dict[bytes, np.ndarray]) -> None:
        keys = np.frombuffer(b"".join(table), dtype=np.uint8).reshape(len(table), 20)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        save_file({"keys": torch.from_numpy(keys.copy()), "logits": torch.from_numpy(np.stack(list(table.values())))},
                  str(tmp))
        os.replace(tmp, self.path)

    def get(self, examples: list[Example]) -> np.ndarray:
        """Logits for ``examples`` in order; only examples never seen before reach the teacher."""
        table = self._load()
        keys = [example_key(ex) for ex in examples]
        missing = list({k: ex for k, ex in zip(keys, examples) if k not in table}.items())
        if missing:
            info(f"teacher logits: computing {len(missing)} of {len(examples)} examples "
                 f"({len(examples) - len(missing)} cached in {self.path})")
        # saved chunk by chunk: the whole training split takes hours on a CPU, and a killed run keeps its chunks
        for start in range(0, len(missing), SAVE_EVERY):
            chunk = missing[start:start + SAVE_EVERY]
            features = encode([ex for _, ex in chunk], self.tokenizer, self.max_length)
            logits = predict_logits(self.teacher, features, self.tokenizer.pad_token_id, self.multiple_choice,
                                    self.batch_size, self.bf16,
                                    description=f"teacher logits {start + len(chunk)}/{len(missing)}",
                                    show_progress=self.show_progress)
            self.computed += len(chunk)
            table.update({k: row for (k, _), row in zip(chunk, logits)})
            self._save(table)
        return np.stack([table[k] for k in keys])
