import json
from pathlib import Path

import numpy as np
import pytest

from leanformer.errors import DataError, LeanformerError
from leanformer.tasks import TaskConfig, get_task

FIXTURES = Path(__file__).parents[1] / "fixtures" / "superglue"


def task(name: str, folder: str):
    return get_task(TaskConfig(name=name, data_dir=str(FIXTURES / folder)))


@pytest.mark.parametrize("name,folder,n_train,n_test", [
    ("boolq", "BoolQ", 2, 2), ("cb", "CB", 3, 1), ("copa", "COPA", 2, 1), ("multirc", "MultiRC", 5, 2),
    ("record", "ReCoRD", 6, 2), ("rte", "RTE", 2, 1), ("wic", "WiC", 2, 1)])
def test_reads_official_layout(name, folder, n_train, n_test):
    t = task(name, folder)
    assert len(t.examples("train")) == n_train
    assert len(t.examples("dev")) == n_train  # val.jsonl is a copy of train.jsonl in the fixtures
    test = t.examples("test")
    assert len(test) == n_test and all(ex.label is None for ex in test)
    assert all(ex.label is not None for ex in t.examples("train"))


def test_boolq_bool_labels_and_pair_order():
    ex = task("boolq", "BoolQ").examples("train")
    assert [e.label for e in ex] == [1, 0]
    assert ex[0].pairs == (("is the cat on the mat", "The cat sat on the mat all day."),)


def test_wic_puts_target_word_first():
    ex = task("wic", "WiC").examples("train")[0]
    assert ex.pairs[0][0].startswith("bank : ") and ex.label == 0


def test_copa_is_multiple_choice_with_question():
    t = task("copa", "COPA")
    ex = t.examples("train")[1]
    assert t.multiple_choice and len(ex.pairs) == 2 and ex.label == 1
    assert ex.pairs[1] == ("I tipped the bottle.", "What happened as a result? The liquid in the bottle poured out.")
    logits = np.array([[2.0, 1.0], [0.0, 3.0]])
    assert t.compute_metrics(t.examples("train"), logits) == {"accuracy": 1.0}
    assert t.submission(t.examples("train"), logits) == [{"idx": 0, "label": 0}, {"idx": 1, "label": 1}]


def test_cb_accuracy_and_macro_f1():
    t = task("cb", "CB")
    ex = t.examples("train")  # labels: entailment, contradiction, neutral
    logits = np.eye(3)[[0, 1, 1]]  # last one wrong: predicts contradiction for neutral
    m = t.compute_metrics(ex, logits)
    assert m["accuracy"] == pytest.approx(2 / 3)
    # F1 per class: entailment 1, contradiction 2/3, neutral 0
    assert m["f1_macro"] == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_multirc_f1a_and_exact_match_by_question():
    t = task("multirc", "MultiRC")
    ex = t.examples("train")  # labels 1,0 | 1,1,0
    assert [e.group for e in ex] == ["0-0", "0-0", "0-1", "0-1", "0-1"]
    logits = np.eye(2)[[1, 0, 1, 0, 0]]  # question 0 right, question 1 misses one answer
    m = t.compute_metrics(ex, logits)
    assert m["em"] == pytest.approx(0.5)
    assert m["f1a"] == pytest.approx(2 * 2 / (2 * 2 + 0 + 1))  # tp=2, fp=0, fn=1
    sub = t.submission(ex, logits)
    assert sub == [{"idx": 0, "passage": {"questions": [
        {"idx": 0, "answers": [{"idx": 0, "label": 1}, {"idx": 1, "label": 0}]},
        {"idx": 1, "answers": [{"idx": 2, "label": 1}, {"idx": 3, "label": 0}, {"idx": 4, "label": 0}]}]}}]


def test_record_candidates_and_max_over_answers():
    t = task("record", "ReCoRD")
    ex = t.examples("train")
    entities = [e.meta["entity"] for e in ex if e.group == "0"]
    assert entities == ["Alice", "Bob", "Paris"]  # duplicates collapsed, inclusive end offsets
    assert [e.label for e in ex if e.group == "0"] == [0, 0, 1]
    assert "@placeholder" not in ex[0].pairs[0][1] and ex[0].pairs[0][1].startswith("Alice is the capital")
    # query 0 picks Paris (right), query 1 picks Bob (wrong)
    scores = {("0", "Paris"): 5, ("1", "Bob"): 5}
    logits = np.array([[0.0, scores.get((e.group, e.meta["entity"]), 0)] for e in ex])
    assert t.compute_metrics(ex, logits) == {"f1": 0.5, "em": 0.5}
    assert t.submission(ex, logits) == [{"idx": 0, "label": "Paris"}, {"idx": 1, "label": "Bob"}]


def test_record_test_split_has_no_metrics_but_submission():
    t = task("record", "ReCoRD")
    ex = t.examples("test")
    logits = np.array([[0.0, 1.0], [0.0, 2.0]])
    assert t.submission(ex, logits) == [{"idx": 7, "label": "Rome"}]
    with pytest.raises(LeanformerError, match="no labels"):
        t.compute_metrics(ex, logits)


def test_boolq_submission_uses_leaderboard_labels():
    t = task("boolq", "BoolQ")
    sub = t.submission(t.examples("test"), np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert sub == [{"idx": 0, "label": "true"}, {"idx": 1, "label": "false"}]


def test_bad_label_names_file_line_and_field(tmp_path):
    (tmp_path / "train.jsonl").write_text(
        json.dumps({"premise": "a", "hypothesis": "b", "label": "entailment", "idx": 0}) + "\n" +
        json.dumps({"premise": "a", "hypothesis": "b", "label": "maybe", "idx": 1}) + "\n")
    with pytest.raises(DataError, match=r"train\.jsonl, line 2, field 'label': label 'maybe' is not in the label set"):
        get_task(TaskConfig(name="rte", data_dir=str(tmp_path))).examples("train")


def test_missing_field_is_named(tmp_path):
    (tmp_path / "val.jsonl").write_text(json.dumps({"question": "q", "idx": 0, "label": True}) + "\n")
    with pytest.raises(DataError, match=r"val\.jsonl, line 1, field 'passage': missing required field"):
        get_task(TaskConfig(name="boolq", data_dir=str(tmp_path))).examples("dev")


def test_unknown_task_and_missing_data_dir():
    with pytest.raises(LeanformerError, match="unknown task 'glue'.*available: boolq, cb"):
        get_task("glue")
    with pytest.raises(LeanformerError, match="needs a data directory"):
        get_task("rte").examples("train")
