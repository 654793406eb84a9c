"""Cached teacher internals: the losses they give equal the running teacher's; a run reuses them."""

import copy
import json

import numpy as np
import pytest
import torch

from leanformer.data.example import Example
from leanformer.data.features import collate, encode
from leanformer.distill import DistillConfig, DistillationLoss, distill
from leanformer.distill.distiller import teacher_trunk
from leanformer.distill.internals_cache import teacher_internals
from leanformer.models import load_model
from leanformer.models.anatomy import keep_layers
from leanformer.models.structure import apply_structure
from tests.conftest import train_toy


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return train_toy(tmp_path_factory.mktemp("teacher"), layers=3)[0]


TEXTS = [("the cat sat on the mat", "it is good"), ("a dog", "no"), ("this film is very bad and the book is not", "it was awful"),
         ("yes", "true")]


@pytest.mark.parametrize("student_heads", [None, [[0, 1], [2, 3]]])  # the teacher's heads: each map; fewer: averaged
def test_cached_internals_give_the_losses_of_the_running_teacher(teacher, tmp_path, monkeypatch, student_heads):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    model, tok, _ = load_model(teacher)
    model.eval().set_attn_implementation("eager")
    layer_map, channels = [1, 3], torch.tensor([0, 3, 5, 7, 11, 30])  # a student cut from the teacher
    student = apply_structure(keep_layers(copy.deepcopy(model), [0, 2]), student_heads, None, channels.tolist())
    with torch.no_grad():
        for p in student.parameters():
            p.mul_(0.9)  # a student that differs from its teacher
    features = encode([Example(uid=str(i), pairs=(p,), label=0) for i, p in enumerate(TEXTS)], tok, 32)
    heads = [4, 4] if student_heads is None else [1, 1]
    cfg = DistillConfig(teacher=str(teacher), output_dir="unused", hidden_weight=1.0, attention_weight=1.0)
    logits = torch.zeros(len(TEXTS), 2)
    running = DistillationLoss(cfg, logits, teacher_trunk(copy.deepcopy(model), layer_map), layer_map, None, channels)
    cached = teacher_internals(teacher_trunk(copy.deepcopy(model), layer_map), features, tok.pad_token_id, layer_map,
                               channels, len(channels), heads, False, {"test": 1}, batch_size=3, show_progress=False)
    from_cache = DistillationLoss(cfg, logits, None, layer_map, None, channels, cached)
    for idx in ([0, 1], [3, 2, 0]):  # batches other than the caching pass's
        inputs = collate([features[i] for i in idx], tok.pad_token_id, False)
        want = running(student, inputs, np.array(idx), torch.zeros(len(idx), dtype=torch.long)).item()
        got = from_cache(student, inputs, np.array(idx), torch.zeros(len(idx), dtype=torch.long)).item()
        assert want > 1e-3 and got == pytest.approx(want, rel=2e-3)  # float16 storage


def test_a_distillation_run_caches_the_internals_once_and_learns(teacher, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    common = dict(teacher=str(teacher), student_layers=[0, 2], hidden_weight=1.0, attention_weight=1.0, epochs=3,
                  batch_size=16, learning_rate=3e-3, bf16=False, show_progress=False, threads=1, cache_internals=True)
    result = distill(DistillConfig(output_dir=str(tmp_path / "a"), **common))
    assert result["metrics"]["dev"]["accuracy"] >= 0.9
    folders = list((tmp_path / "cache" / "teacher-internals").iterdir())
    assert len(folders) == 1 and json.loads((folders[0] / "meta.json").read_text())["layer_map"] == [2, 3]
    stamp = (folders[0] / "hidden.f16").stat().st_mtime_ns
    distill(DistillConfig(output_dir=str(tmp_path / "b"), **common))  # the same run again: reused, not rewritten
    assert (folders[0] / "hidden.f16").stat().st_mtime_ns == stamp
