import json
import os

import pytest
import torch
from transformers import GPT2Config, GPT2Model

from leanformer.errors import LeanformerError
from leanformer.models import Manifest, load_for_task, load_model, save_model
from leanformer.models.loading import resolve
from leanformer.models.manifest import OnnxGraph, TunedInstances
from tests.conftest import FAMILIES


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_loads_for_classification_and_multiple_choice(tiny_model, family):
    path = tiny_model(family)
    model, tok, manifest = load_for_task(path, ["a", "b", "c"])
    assert manifest is None and model.config.id2label == {0: "a", 1: "b", 2: "c"}
    enc = tok(["the cat sat", "a dog"], ["on the mat", "ran"], padding=True, return_tensors="pt")
    assert model(**enc).logits.shape == (2, 3)
    mc, tok, _ = load_for_task(path, ["0", "1"], multiple_choice=True)
    enc = tok(["the cat", "the cat", "a dog", "a dog"], ["sat", "ran", "sat", "ran"], padding=True, return_tensors="pt")
    assert mc(**{k: v.view(2, 2, -1) for k, v in enc.items()}).logits.shape == (2, 2)


def test_save_and_load_roundtrip_keeps_head_and_manifest(tiny_model, tmp_path):
    model, tok, _ = load_for_task(tiny_model("roberta"), ["neg", "pos"])
    manifest = Manifest(task={"name": "generic"}, label_names=["neg", "pos"]).with_step("train", metrics={"dev": {"accuracy": 0.5}})
    out = save_model(model, tok, manifest, tmp_path / "out")
    assert sorted(os.listdir(out)) == ["config.json", "leanformer.json", "model.safetensors", "tokenizer.json",
                                       "tokenizer_config.json"]
    loaded, _, m2 = load_model(out)
    assert m2.lineage[0]["step"] == "train" and m2.metrics == {"dev": {"accuracy": 0.5}}
    enc = tok(["the cat is good"], return_tensors="pt")
    model.eval(), loaded.eval()
    torch.testing.assert_close(model(**enc).logits, loaded(**enc).logits)


def test_failed_save_leaves_no_partial_output(tiny_model, tmp_path):
    model, tok, _ = load_for_task(tiny_model("bert"), ["a", "b"])

    class Broken(Manifest):
        def write(self, model_dir):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save_model(model, tok, Broken(task={}, label_names=["a", "b"]), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".out")]  # no temp dir left behind


def test_directory_without_tokenizer(tiny_model):
    path = tiny_model("bert")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        os.remove(path / f)
    with pytest.raises(LeanformerError, match="no tokenizer in the model directory"):
        load_for_task(path, ["a", "b"])


def test_unsupported_architecture(tmp_path):
    GPT2Model(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50)).save_pretrained(tmp_path / "gpt2")
    with pytest.raises(LeanformerError, match="architecture 'gpt2' is not supported; supported: bert, roberta"):
        load_for_task(tmp_path / "gpt2", ["a", "b"])


def test_not_a_leanformer_model(tiny_model):
    with pytest.raises(LeanformerError, match="not a leanformer model"):
        load_model(tiny_model("bert"))


def test_unknown_source_offline_is_clear():
    with pytest.raises(LeanformerError, match="not a built-in model .*all-MiniLM-L6-v2.*not a local directory"):
        load_for_task("nobody/no-such-model", ["a", "b"])
    with pytest.raises(LeanformerError, match="model directory not found"):
        resolve("./missing/dir")


def test_corrupt_manifest(tiny_model):
    path = tiny_model("bert")
    (path / "leanformer.json").write_text("{not json")
    with pytest.raises(LeanformerError, match="not a valid leanformer manifest"):
        load_model(path)


def test_manifests_of_the_earlier_layout_are_read_into_typed_sections(tmp_path):
    (tmp_path / "leanformer.json").write_text(json.dumps({
        "task": {"name": "generic"}, "label_names": ["a", "b"],
        "structure": {"heads": [[0]], "neurons": None},
        "runtime": {"format": "onnx", "file": "model.onnx", "precision": "int8", "fusions": {"Attention": 2},
                    "instances": {"instances": 2, "threads": 1, "batch_size": 8, "examples_per_second": 99.0}}}))
    m = Manifest.read(tmp_path)
    assert m.onnx == OnnxGraph(file="model.onnx", precision="int8", fusions={"Attention": 2})
    assert m.tuned == TunedInstances(2, 1, 8, 99.0) and m.structure.heads == [[0]] and m.onnx_file == "model.onnx"
    m.write(tmp_path)
    assert "runtime" not in json.loads((tmp_path / "leanformer.json").read_text())
    assert Manifest.read(tmp_path) == m
