"""CTranslate2 as a runtime for converted BERT classifiers (an optional peer: ``pip install 'leanformer[ctranslate2]'``).

CTranslate2 runs the encoder and its pooler; the task head, one matrix, runs here in numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file

from leanformer.utils.cpu import physical_cores
from leanformer.utils.extras import import_extra

#: where a converted model directory keeps CTranslate2's files (beside the tokenizer and the task head)
ENCODER_DIR = "ctranslate2"
HEAD_FILE = "head.safetensors"


def import_ctranslate2():
    return import_extra("ctranslate2", "CTranslate2", "the CTranslate2 runtime")


class CTranslate2Backend:
    """The encoder on CTranslate2 at the precision it was converted to, with an explicit thread count."""

    def __init__(self, model_dir: str | Path, threads: int | None):
        ct2 = import_ctranslate2()
        self.encoder = ct2.Encoder(str(Path(model_dir) / ENCODER_DIR), device="cpu", compute_type="default",
                                   intra_threads=threads or physical_cores())
        head = load_file(str(Path(model_dir) / HEAD_FILE))
        self.weight, self.bias = head["weight"].T, head["bias"]

    def __call__(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        # CTranslate2 takes unpadded rows and does its own padding
        mask = batch["attention_mask"].numpy().astype(bool)

        def rows(name: str) -> list[list[int]]:
            return [row[keep].tolist() for row, keep in zip(batch[name].numpy(), mask)]

        types = rows("token_type_ids") if "token_type_ids" in batch else None
        out = self.encoder.forward_batch(rows("input_ids"), token_type_ids=types)
        return np.asarray(out.pooler_output) @ self.weight + self.bias
