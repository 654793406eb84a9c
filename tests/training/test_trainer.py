import copy
import json
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

from leanformer.errors import LeanformerError
from leanformer.evaluation import EvalConfig, evaluate
from leanformer.models import load_model
from leanformer.tasks import TaskConfig
from leanformer.tasks.generic import GenericClassification
from leanformer.training import TrainConfig, train
from leanformer.training.options import TrainOptions, resolve_defaults
from leanformer.training import loop as trainer_module
from tests.conftest import VOCAB, make_tiny_model


def config(model, data, out, **kw):
    defaults = dict(epochs=3, batch_size=16, learning_rate=3e-3, warmup_ratio=0.1, max_length=32, bf16=False,
                    checkpoint_every=4, show_progress=False, threads=1)
    return TrainConfig(model=str(model), task=TaskConfig(name="generic", data_dir=str(data)), output_dir=str(out),
                       **{**defaults, **kw})


def test_tiny_model_learns_and_records_lineage(tiny_model, toy_dataset, tmp_path):
    out = tmp_path / "out"
    result = train(config(tiny_model("bert"), toy_dataset, out, epochs=6))
    assert result["metrics"]["dev"]["accuracy"] >= 0.9  # the label is one keyword away
    assert result["metrics"]["test"]["accuracy"] >= 0.9
    assert not (tmp_path / "out.work").exists()
    model, _, manifest = load_model(out)
    entry = manifest.lineage[-1]
    assert entry["step"] == "train" and entry["metrics"] == result["metrics"]
    assert entry["config"]["task"]["name"] == "generic" and len(entry["history"]) == 6
    assert manifest.label_names == ["neg", "pos"]
    report = evaluate(EvalConfig(model=str(out), split="test", threads=1))
    assert report["metrics"]["accuracy"] == pytest.approx(result["metrics"]["test"]["accuracy"])
    assert report["examples"] == 40 and report["examples_per_second"] > 0


def test_resume_after_crash_gives_the_same_model(tiny_model, toy_dataset, tmp_path, monkeypatch):
    model = tiny_model("roberta")
    train(config(model, toy_dataset, tmp_path / "straight", epochs=2))

    real_save = trainer_module._save_checkpoint

    def crash_after_step_6(path, model_, opt, sched, state):
        real_save(path, model_, opt, sched, state)
        if state.global_step >= 6:
            raise KeyboardInterrupt("killed")

    monkeypatch.setattr(trainer_module, "_save_checkpoint", crash_after_step_6)
    with pytest.raises(KeyboardInterrupt):
        train(config(model, toy_dataset, tmp_path / "resumed", epochs=2))
    assert not (tmp_path / "resumed").exists() and (tmp_path / "resumed.work" / "checkpoint").is_dir()
    with pytest.raises(LeanformerError, match="unfinished run; continue it with --resume"):
        train(config(model, toy_dataset, tmp_path / "resumed", epochs=2))
    monkeypatch.setattr(trainer_module, "_save_checkpoint", real_save)
    # and the kill came while that checkpoint was being replaced: it is only there as the replaced copy
    work = tmp_path / "resumed.work"
    os.replace(work / "checkpoint", work / ".checkpoint.old-999999999-0")
    said = []
    monkeypatch.setattr(trainer_module, "info", said.append)
    train(config(model, toy_dataset, tmp_path / "resumed", epochs=2, resume=True))
    assert any(line.startswith("resuming from") and "step 8/" in line for line in said), said

    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)


def test_multiple_choice_task_trains(tiny_model, tmp_path):
    from pathlib import Path
    data = Path(__file__).parents[1] / "fixtures" / "superglue" / "COPA"
    cfg = TrainConfig(model=str(tiny_model("electra")), task=TaskConfig(name="copa", data_dir=str(data)),
                      output_dir=str(tmp_path / "copa"), epochs=1, batch_size=2, bf16=False, show_progress=False)
    result = train(cfg)
    assert set(result["metrics"]) == {"dev"}  # COPA's test split is unlabelled
    _, _, manifest = load_model(tmp_path / "copa")
    assert manifest.multiple_choice


def test_bf16_autocast_path_runs(tiny_model, toy_dataset, tmp_path):
    result = train(config(tiny_model("mpnet"), toy_dataset, tmp_path / "bf16", epochs=1, bf16=True, train_limit=48))
    assert json.loads((tmp_path / "bf16" / "leanformer.json").read_text())["lineage"][0]["metrics_precision"] == "bf16"
    assert 0 <= result["metrics"]["dev"]["accuracy"] <= 1


def test_bad_data_writes_nothing(tiny_model, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text('{"text": "the cat", "label": "a"}\n{"text": "oops"\n')
    (data / "dev.jsonl").write_text('{"text": "the cat", "label": "a"}\n')
    with pytest.raises(LeanformerError, match=r"train\.jsonl, line 2: malformed JSON"):
        train(config(tiny_model("bert"), data, tmp_path / "out"))
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.work").exists()


def test_predictions_on_unlabelled_split(tiny_model, tmp_path):
    from pathlib import Path
    data = Path(__file__).parents[1] / "fixtures" / "superglue" / "BoolQ"
    out = tmp_path / "boolq"
    train(TrainConfig(model=str(tiny_model("distilbert")), task=TaskConfig(name="boolq", data_dir=str(data)),
                      output_dir=str(out), epochs=1, batch_size=2, bf16=False, show_progress=False))
    with pytest.raises(LeanformerError, match="has no labels.*--predictions"):
        evaluate(EvalConfig(model=str(out), split="test"))
    report = evaluate(EvalConfig(model=str(out), split="test", predictions=str(tmp_path / "BoolQ.jsonl")))
    assert report["metrics"] is None
    lines = [json.loads(l) for l in (tmp_path / "BoolQ.jsonl").read_text().splitlines()]
    assert [l["idx"] for l in lines] == [0, 1] and {l["label"] for l in lines} <= {"true", "false"}


def test_defaults_follow_model_width_and_data_size():
    def resolved(width, examples, options=TrainOptions(), model_length=128):
        return resolve_defaults(options, width, examples, model_length)

    assert resolved(384, 5000).learning_rate == 1e-4
    assert resolved(768, 5000).learning_rate == 3e-5
    assert resolved(1024, 5000).learning_rate == 1e-5
    assert resolved(768, 588).epochs == 10
    assert resolved(768, 5000).epochs == 3
    assert resolved(768, 5000, model_length=64).max_length == 64
    explicit = resolved(384, 10, TrainOptions(epochs=2, learning_rate=7e-5, max_length=32), model_length=64)
    assert (explicit.epochs, explicit.learning_rate, explicit.max_length) == (2, 7e-5, 32)


def test_a_model_that_answers_one_class_is_flagged(tiny_model, toy_dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(GenericClassification, "predict", lambda self, examples, logits: np.zeros(len(examples), int))
    result = train(TrainConfig(model=str(tiny_model("bert")), task=TaskConfig(name="generic", data_dir=str(toy_dataset)),
                               output_dir=str(tmp_path / "out"), epochs=1, bf16=False, threads=1, show_progress=False))
    assert "same class for every dev example" in result["warnings"][0]
    lineage = json.loads((tmp_path / "out" / "leanformer.json").read_text())["lineage"][-1]
    assert lineage["warnings"] == result["warnings"] and lineage["config"]["learning_rate"] == 1e-4  # 32 wide


# 2 epochs x 3 steps; each epoch's end saves anyway
@pytest.mark.parametrize("minutes, saves", [(1e6, [3, 6]), (0.0, [1, 2, 3, 3, 4, 5, 6, 6])])
def test_checkpoints_follow_the_clock_as_well_as_the_step_count(tiny_model, toy_dataset, tmp_path, monkeypatch,
                                                                minutes, saves):
    calls = []
    real_save = trainer_module._save_checkpoint
    monkeypatch.setattr(trainer_module, "_save_checkpoint", lambda *a: (calls.append(a[-1].global_step), real_save(*a)))
    train(config(tiny_model("bert"), toy_dataset, tmp_path / "out", epochs=2, batch_size=48, train_limit=144,
                 checkpoint_every=1000, checkpoint_minutes=minutes))
    assert calls == saves


def test_fused_optimizer_takes_the_reference_adamw_steps(tmp_path):
    """The fused kernel must change nothing but speed: the steps of PyTorch's reference loop, with weight decay
    on matrices only."""
    model = AutoModelForSequenceClassification.from_pretrained(make_tiny_model(tmp_path / "tiny"), num_labels=2)
    twin, start = copy.deepcopy(model), copy.deepcopy(model)
    opts = TrainOptions(learning_rate=1e-2, weight_decay=0.1)
    fused = trainer_module._optimizer(model, opts)
    assert fused.defaults["fused"]
    position = {id(p): i for i, p in enumerate(model.parameters())}
    twins = list(twin.parameters())
    reference = torch.optim.AdamW([{**g, "params": [twins[position[id(p)]] for p in g["params"]]}
                                   for g in fused.param_groups], foreach=False, fused=False)
    assert [g["weight_decay"] for g in reference.param_groups] == [0.1, 0.0]
    assert all(p.ndim >= 2 for p in reference.param_groups[0]["params"])
    inputs = torch.randint(5, len(VOCAB), (4, 12))
    for _ in range(3):
        for m, optimizer in ((model, fused), (twin, reference)):
            m(input_ids=inputs).logits.square().sum().backward()
            optimizer.step()
            optimizer.zero_grad()
    assert all(not torch.equal(a, b) for a, b in zip(model.parameters(), start.parameters()))
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
