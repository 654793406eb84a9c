import json

import numpy as np
import pytest

from leanformer.distill import DistillConfig, distill
from leanformer.distill.augment import perturbed_copies, teacher_labelled
from leanformer.distill.teacher_cache import example_key
from leanformer.errors import LeanformerError
from leanformer.models import load_model
from leanformer.tasks import Example, TaskConfig, get_task
from tests.conftest import train_toy

EXAMPLES = [Example("a", (("the cat sat on the mat today", "it was a good day"),), label=0),
            Example("b", (("a dog ran far away from home", None),), label=1),
            Example("c", (("red", "blue"), ("green", "one two three four")), label=1)]


def test_copies_are_perturbed_word_draws_from_the_corpus():
    copies = perturbed_copies(EXAMPLES, 3, seed=0, replace_prob=0.3, drop_prob=0.2)
    assert [c.uid for c in copies[:4]] == ["a#aug1", "b#aug1", "c#aug1", "a#aug2"] and len(copies) == 9
    assert all(c.label is None for c in copies)
    corpus = {w for ex in EXAMPLES for pair in ex.pairs for t in pair if t for w in t.split()}
    for copy, original in zip(copies, EXAMPLES * 3):
        assert len(copy.pairs) == len(original.pairs)
        assert [b is None for _, b in copy.pairs] == [b is None for _, b in original.pairs]
        assert all(w in corpus for pair in copy.pairs for t in pair if t for w in t.split())
    assert sum(c.pairs != o.pairs for c, o in zip(copies, EXAMPLES * 3)) >= 6
    assert copies == perturbed_copies(EXAMPLES, 3, seed=0, replace_prob=0.3, drop_prob=0.2)  # seeded
    untouched = perturbed_copies(EXAMPLES, 1, seed=0, replace_prob=0.0, drop_prob=0.0)
    assert [c.pairs for c in untouched] == [e.pairs for e in EXAMPLES]
    assert perturbed_copies(EXAMPLES, 0, seed=0) == []


def test_teacher_labels_are_the_argmax():
    labelled = teacher_labelled(EXAMPLES, np.array([[0.1, 2.0], [3.0, -1.0], [0.0, 0.5]]))
    assert [e.label for e in labelled] == [1, 0, 1] and [e.uid for e in labelled] == ["a", "b", "c"]


def test_bad_augmentation_settings():
    with pytest.raises(LeanformerError, match="copies >= 0"):
        perturbed_copies(EXAMPLES, 1, seed=0, replace_prob=0.7, drop_prob=0.5)


def test_distill_with_augmented_transfer_data(tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    teacher, _ = train_toy(tmp_path / "teacher", layers=2)
    opts = {"epochs": 4, "batch_size": 16, "learning_rate": 3e-3, "bf16": False, "show_progress": False,
            "threads": 1, "student_layers": [0]}
    result = distill(DistillConfig(teacher=str(teacher), output_dir=str(tmp_path / "s"), augment=2, **opts))
    step = json.loads((tmp_path / "s" / "leanformer.json").read_text())["lineage"][-1]
    assert step["augmented_examples"] == 2 * 160 and step["config"]["augment"] == 2
    # the teacher saw every distinct original and perturbed text once
    train = get_task(TaskConfig.from_dict(load_model(teacher)[2].task)).examples("train")
    keys = {example_key(e) for e in train + perturbed_copies(train, 2, seed=42)}
    assert step["teacher_logits_computed"] == len(keys) > len({example_key(e) for e in train})
    assert result["metrics"]["dev"]["accuracy"] >= 0.9
    # with intermediate losses the teacher runs on every batch, the perturbed copies included
    internals = distill(DistillConfig(teacher=str(teacher), output_dir=str(tmp_path / "h"), augment=1,
                                      hidden_weight=1.0, attention_weight=1.0, **opts))
    step = json.loads((tmp_path / "h" / "leanformer.json").read_text())["lineage"][-1]
    assert step["augmented_examples"] == 160 and step["loss"]["hidden_weight"] == 1.0
    assert internals["metrics"]["dev"]["accuracy"] >= 0.9
    with pytest.raises(LeanformerError, match="augment must be"):
        distill(DistillConfig(teacher=str(teacher), output_dir=str(tmp_path / "x"), augment=-1, **opts))
