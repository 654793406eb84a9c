"""Unsafe model directories are refused with one line and exit 2, and nothing outside them is touched."""

import json
import shutil
import sys

import torch
from safetensors.torch import load_file

from tests.cli.test_output_rules import refused


def copy_with_manifest(src, dst, change):
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "leanformer.json").read_text())
    change(manifest)
    (dst / "leanformer.json").write_text(json.dumps(manifest))
    return dst


def test_a_manifest_path_outside_the_model_directory_is_refused(tmp_path, trained_toy, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "model.onnx").write_bytes(b"precious graph")
    for i, target in enumerate(["../other/model.onnx", "/etc/passwd"]):
        model = copy_with_manifest(trained_toy["onnx"], tmp_path / f"evil{i}",
                                   lambda m: m["onnx"].update(file=target))
        refused(["quantize", "-m", str(model), "-o", str(tmp_path / f"q{i}"), "--variant", "s8"], tmp_path, capsys,
                "field 'onnx.file' must name a file inside the model directory")
        refused(["predict", "-m", str(model), "-i", str(trained_toy["data"] / "test.jsonl"),
                 "-o", str(tmp_path / f"p{i}.jsonl")], tmp_path, capsys, "field 'onnx.file'")


def test_a_model_that_needs_its_own_code_is_refused_without_asking(tmp_path, tiny_model, toy_dataset, capsys,
                                                                  monkeypatch):
    model = tiny_model("bert")
    config = json.loads((model / "config.json").read_text())
    config.update(model_type="evil-net", auto_map={"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"})
    (model / "config.json").write_text(json.dumps(config))
    (model / "evil.py").write_text("open(__file__ + '.ran', 'w').write('ran')\n")
    monkeypatch.setattr(sys, "stdin", open("/dev/null"))  # no one answers a prompt
    refused(["train", "-m", str(model), "-o", str(tmp_path / "out"), "--task", "generic", "--data-dir",
             str(toy_dataset)], tmp_path, capsys, "needs custom code from its directory")
    assert not (model / "evil.py.ran").exists()


class Evil:
    def __reduce__(self):
        return (print, ("this ran",))


def test_a_pickle_that_holds_more_than_tensors_is_refused(tmp_path, tiny_model, toy_dataset, capsys):
    model = tiny_model("bert")
    weights = load_file(model / "model.safetensors")
    (model / "model.safetensors").unlink()
    torch.save({**weights, "evil": Evil()}, model / "pytorch_model.bin")
    refused(["train", "-m", str(model), "-o", str(tmp_path / "out"), "--task", "generic", "--data-dir",
             str(toy_dataset)], tmp_path, capsys, "leanformer loads weights only")
