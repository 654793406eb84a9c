"""Tokenising examples once, and batching them with dynamic padding.

Padding every batch only to its own longest sequence, and grouping similar lengths into the
same batch, is most of the cost saving of short inputs; it matters for training and inference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch

from leanformer.data.example import Example

ENCODE_CHUNK = 1024


def encode(examples: list[Example], tokenizer, max_length: int) -> list[list[dict]]:
    """Per example, one feature dict (``input_ids`` and, where used, ``token_type_ids``) per pair."""
    flat = [pair for ex in examples for pair in ex.pairs]
    firsts = [a for a, _ in flat]
    seconds = [b for _, b in flat]
    has_pair = any(b is not None for b in seconds)
    if has_pair and any(b is None for b in seconds):
        raise ValueError("examples mix single texts and text pairs")
    features = []
    for start in range(0, len(flat), ENCODE_CHUNK):
        enc = tokenizer(firsts[start:start + ENCODE_CHUNK], seconds[start:start + ENCODE_CHUNK] if has_pair else None,
                        truncation=True, max_length=max_length, return_attention_mask=False)
        keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
        features.extend({k: enc[k][i] for k in keys} for i in range(len(enc["input_ids"])))
    grouped, pos = [], 0
    for ex in examples:
        grouped.append(features[pos:pos + len(ex.pairs)])
        pos += len(ex.pairs)
    return grouped


def lengths(features: list[list[dict]]) -> np.ndarray:
    return np.array([max(len(f["input_ids"]) for f in choices) for choices in features])


def text_lengths(examples: list) -> np.ndarray:
    """Characters of each example's longest choice: a stand-in for token length where nothing is tokenised
    yet (batches for workers that tokenise their own inputs)."""
    return np.array([max(len(a) + len(b or "") for a, b in ex.pairs) for ex in examples])


def collate(batch: list[list[dict]], pad_id: int, multiple_choice: bool, pad_to: int | None = None) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest sequence (or to ``pad_to``): ``[B, L]``, or ``[B, C, L]`` for multiple choice."""
    width = max(len(f["input_ids"]) for choices in batch for f in choices)
    width = max(width, pad_to or 0)
    keys = batch[0][0].keys()
    out = {}
    for key in keys:
        fill = pad_id if key == "input_ids" else 0
        rows = [[f[key] + [fill] * (width - len(f[key])) for f in choices] for choices in batch]
        out[key] = torch.tensor(rows, dtype=torch.long)
    out["attention_mask"] = torch.tensor(
        [[[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"])) for f in choices] for choices in batch],
        dtype=torch.long)
    if not multiple_choice:
        out = {k: v[:, 0] for k, v in out.items()}
    return out


def length_grouped_batches(lens: np.ndarray, batch_size: int, seed: int, epoch: int, group: int = 50) -> list[np.ndarray]:
    """Shuffled batches of similar lengths: shuffle, sort within windows of ``group`` batches, shuffle batches.

    Deterministic in (seed, epoch), so a resumed run sees exactly the batches it would have seen.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lens))
    window = batch_size * group
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start:start + window]
        chunk = chunk[np.argsort(-lens[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def sorted_batches(lens: np.ndarray, batch_size: int, sort: bool = True) -> list[np.ndarray]:
    """Batches for inference, of nearly equal length unless ``sort`` is off; callers restore input order by index."""
    order = np.argsort(-lens, kind="stable") if sort else np.arange(len(lens))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def in_input_order(count: int, batches: list[np.ndarray], results: Iterable[tuple[int, np.ndarray]]) -> np.ndarray:
    """Stack per-batch results (``(batch index, rows)`` in any order) back into input order."""
    out: list = [None] * count
    for b, rows in results:
        for i, row in zip(batches[b], rows):
            out[i] = row
    return np.stack(out)


def run_batches(features: list[list[dict]], batches: list[np.ndarray],
                run_batch: Callable[[list[list[dict]]], np.ndarray],
                progress: Callable[[int], object] | None = None) -> np.ndarray:
    """The one batched-inference loop: ``run_batch`` over each batch of indices, results in input order."""

    def results():
        for b, idx in enumerate(batches):
            yield b, run_batch([features[i] for i in idx])
            if progress is not None:
                progress(len(idx))

    return in_input_order(len(features), batches, results())
