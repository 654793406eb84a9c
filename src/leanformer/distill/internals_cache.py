"""The teacher's hidden states and attention maps that the intermediate losses read, computed once per run and
kept on disk in float16, so that later epochs do not run the teacher's encoder at all.

Where the device has no bf16 units this is the cheaper way (issue: frontier): the encoder's forward pass costs
a 6 x 384 student about three times its own training step on such a CPU, every epoch. What is kept is only
what the losses compare: the compared layers, on the channels the student kept, and each attention map
averaged over heads where the student's layer has another head count (the loss averages it anyway).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import torch

from leanformer.data.features import collate, lengths, sorted_batches
from leanformer.errors import LeanformerError
from leanformer.utils.device import autocast, device_of, to_device
from leanformer.utils.paths import atomic_dir, cache_dir
from leanformer.utils.progress import ProgressBar, info


class TeacherInternals:
    """Per training example: the compared hidden states ``[pairs, length, channels]`` and attention maps
    ``[length, length]`` per kept head (or one head-average) of each compared layer (none if ``heads`` is
    empty: no attention loss)."""

    def __init__(self, folder: Path):
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.hidden_index, self.layer_map, self.heads = meta["hidden_index"], meta["layer_map"], meta["heads"]
        self.width = meta["width"]
        self.lengths = np.load(folder / "lengths.npy")
        self.hidden = np.memmap(folder / "hidden.f16", dtype=np.float16, mode="r")
        self.attention = np.memmap(folder / "attention.f16", dtype=np.float16, mode="r")
        self.hidden_at, self.attention_at = _offsets(self.lengths, len(self.hidden_index), self.width, self.heads)

    def batch(self, idx, tokens: int, device) -> tuple[list, list]:
        """(hidden states indexed like the model's ``hidden_states``, attention maps indexed by layer - 1) for
        the examples ``idx``, zero-padded to ``tokens``; entries the losses do not read are None."""
        n, pairs = len(idx), len(self.hidden_index)
        hidden = torch.zeros(pairs, n, tokens, self.width)
        attention = [torch.zeros(n, h, tokens, tokens) for h in self.heads]
        for row, i in enumerate(idx):
            length = int(self.lengths[i])
            start = self.hidden_at[i]
            block = self.hidden[start:start + pairs * length * self.width].reshape(pairs, length, self.width)
            hidden[:, row, :length] = torch.from_numpy(block.astype(np.float32))
            start = self.attention_at[i]
            for layer, h in enumerate(self.heads):
                size = h * length * length
                maps = self.attention[start:start + size].reshape(h, length, length)
                attention[layer][row, :, :length, :length] = torch.from_numpy(maps.astype(np.float32))
                start += size
        hidden_states = [None] * (max(self.hidden_index) + 1)
        for p, t in enumerate(self.hidden_index):
            hidden_states[t] = hidden[p].to(device)
        attentions = [None] * max(self.layer_map)
        for layer, t in enumerate(self.layer_map[:len(self.heads)]):
            attentions[t - 1] = attention[layer].to(device)
        return hidden_states, attentions


def _offsets(lens: np.ndarray, pairs: int, width: int, heads: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Where each example's hidden states and attention maps start in the flat files (one more: the end)."""
    hidden = np.concatenate([[0], np.cumsum(lens.astype(np.int64) * pairs * width)])
    attention = np.concatenate([[0], np.cumsum(lens.astype(np.int64) ** 2 * sum(heads))])
    return hidden, attention


def teacher_internals(trunk, features: list[list[dict]], pad_id: int, layer_map: list[int],
                      channels: torch.Tensor | None, width: int, heads: list[int], bf16: bool, identity: dict,
                      batch_size: int = 64, show_progress: bool = True) -> TeacherInternals:
    """The internals of ``features`` from the cache, computed first if this run's ``identity`` (teacher, length,
    numerics, examples) has none there for what is compared: ``layer_map``, ``channels`` (all ``width`` if
    None) and ``heads`` (per compared layer, the teacher's head count to keep every head, or 1 for their
    average)."""
    key = hashlib.sha1(json.dumps({**identity, "layer_map": layer_map, "heads": heads, "width": width,
                                   "channels": channels.tolist() if channels is not None else None},
                                  sort_keys=True).encode()).hexdigest()[:32]
    folder = cache_dir("teacher-internals") / key
    if (folder / "meta.json").is_file():
        info(f"teacher internals: reusing {folder}")
        return TeacherInternals(folder)
    hidden_index = [0] + list(layer_map)
    lens = lengths(features)
    hidden_at, attention_at = _offsets(lens, len(hidden_index), width, heads)
    needed = 2 * (hidden_at[-1] + attention_at[-1])
    free = shutil.disk_usage(folder.parent).free
    if needed > 0.9 * free:
        raise LeanformerError(f"caching the teacher's internals for {len(features)} examples needs {needed / 1e9:.1f} GB "
                              f"in {folder.parent}, which has {free / 1e9:.1f} GB free; distil without "
                              "--cache-internals (the teacher then runs on every batch)")
    info(f"teacher internals: computing {len(features)} examples ({needed / 1e9:.1f} GB) into {folder}")
    device = device_of(trunk)
    with atomic_dir(folder) as tmp:
        hidden = np.memmap(tmp / "hidden.f16", dtype=np.float16, mode="w+", shape=(max(int(hidden_at[-1]), 1),))
        attention = np.memmap(tmp / "attention.f16", dtype=np.float16, mode="w+",
                              shape=(max(int(attention_at[-1]), 1),))
        with torch.no_grad(), ProgressBar(len(features), "teacher internals", enabled=show_progress) as bar:
            for idx in sorted_batches(lens, batch_size):
                with autocast(bf16, device):
                    out = trunk(**to_device(collate([features[i] for i in idx], pad_id, False), device),
                                output_hidden_states=True, output_attentions=bool(heads))
                states = torch.stack([out.hidden_states[t].float() for t in hidden_index])  # [pairs, n, T, C]
                if channels is not None:
                    states = states.index_select(-1, channels)
                for row, i in enumerate(idx):
                    length = int(lens[i])
                    hidden[hidden_at[i]:hidden_at[i + 1]] = states[:, row, :length].reshape(-1).cpu().numpy()
                    if heads:
                        maps = [out.attentions[t - 1][row, :, :length, :length].float() for t in layer_map]
                        maps = [(a if h == a.shape[0] else a.mean(0, keepdim=True)).reshape(-1)
                                for a, h in zip(maps, heads)]
                        attention[attention_at[i]:attention_at[i + 1]] = torch.cat(maps).cpu().numpy()
                bar.advance(len(idx))
        hidden.flush()
        attention.flush()
        del hidden, attention
        np.save(tmp / "lengths.npy", lens)
        (tmp / "meta.json").write_text(json.dumps({"hidden_index": hidden_index, "layer_map": list(layer_map),
                                                   "heads": heads, "width": width}), encoding="utf-8")
    return TeacherInternals(folder)
