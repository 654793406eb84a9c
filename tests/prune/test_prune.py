import copy
import dataclasses
import json

import pytest
import torch

from leanformer.errors import LeanformerError
from leanformer.models import Manifest, load_for_task, load_model, save_model
from leanformer.models.manifest import Structure
from leanformer.models.anatomy import block_parts
from leanformer.models.structure import apply_structure, compose
from leanformer.prune import PruneConfig, prune
from leanformer.prune.importance import magnitude_importance, top_k
from leanformer.prune.masks import StructureMasks
from leanformer.prune.targets import parse_target, resolve_target

PRUNABLE = ("bert", "roberta", "xlm-roberta", "distilbert", "electra", "mpnet")
KEEP_HEADS = [[0, 2], [1, 3], [2, 3]]
KEEP_NEURONS = [[0, 5, 7, 11, 20], [1, 2, 3, 4, 47], [10, 20, 30, 40, 45]]


def masks_for(model, heads, neurons):
    parts = block_parts(model)
    hm = [torch.zeros(p.num_heads).index_fill_(0, torch.tensor(h), 1.0) for p, h in zip(parts, heads)]
    nm = [torch.zeros(p.ffn_in.out_features).index_fill_(0, torch.tensor(n), 1.0) for p, n in zip(parts, neurons)]
    return StructureMasks(model, hm, nm)


def batch(tok):
    return tok(["the cat sat on the mat", "a dog is very good", "bird"], ["it was great", "no", "yes it is"],
               padding=True, return_tensors="pt")


@pytest.mark.parametrize("family", PRUNABLE)
def test_masked_equals_physically_pruned_and_survives_save_load(tiny_model, tmp_path, family):
    torch.manual_seed(0)  # random tiny weights give logits near 1e-3; a fixed draw keeps the "changed" check stable
    model, tok, _ = load_for_task(tiny_model(family, layers=3), ["a", "b", "c"])
    model.eval()
    enc = batch(tok)
    with torch.no_grad(), masks_for(model, KEEP_HEADS, KEEP_NEURONS):
        masked = model(**enc).logits
    pruned = apply_structure(copy.deepcopy(model), KEEP_HEADS, KEEP_NEURONS)
    parts = block_parts(pruned)
    assert [p.num_heads for p in parts] == [2, 2, 2] and [p.ffn_in.out_features for p in parts] == [5, 5, 5]
    assert parts[0].query.out_features == 2 * parts[0].head_size != model.config.hidden_size
    with torch.no_grad():
        physical = pruned(**enc).logits
    assert (masked - physical).abs().max().item() < 1e-4
    with torch.no_grad():
        assert (model(**enc).logits - physical).abs().max().item() > 1e-4  # pruning did change something
    manifest = Manifest(task={"name": "generic"}, label_names=["a", "b", "c"],
                        structure=Structure(heads=KEEP_HEADS, neurons=KEEP_NEURONS))
    save_model(pruned, tok, manifest, tmp_path / "pruned")
    again, _, m2 = load_model(tmp_path / "pruned")
    assert m2.structure == manifest.structure
    with torch.no_grad():
        assert (again(**enc).logits - physical).abs().max().item() < 1e-5


def test_pruning_twice_composes_indices(tiny_model):
    model, tok, _ = load_for_task(tiny_model("bert", layers=1), ["a", "b"])
    model.eval()
    enc = batch(tok)
    once = apply_structure(copy.deepcopy(model), [[0, 1, 3]], [list(range(0, 48, 2))])
    twice = apply_structure(copy.deepcopy(once), [[0, 2]], [[1, 5, 9]])
    heads, neurons = compose([[0, 1, 3]], [[0, 2]]), compose([list(range(0, 48, 2))], [[1, 5, 9]])
    assert heads == [[0, 3]] and neurons == [[2, 10, 18]]
    direct = apply_structure(copy.deepcopy(model), heads, neurons)
    with torch.no_grad():
        torch.testing.assert_close(twice(**enc).logits, direct(**enc).logits)


def test_mpnet_layers_read_their_own_heads_of_the_shared_position_bias(tiny_model):
    model, tok, _ = load_for_task(tiny_model("mpnet", layers=2), ["a", "b"])
    model.eval()
    once = apply_structure(copy.deepcopy(model), [[0, 2, 3], [1, 2, 3]], None)
    assert [p.attention.bias_heads.tolist() for p in block_parts(once)] == [[0, 2, 3], [1, 2, 3]]
    twice = apply_structure(copy.deepcopy(once), [[1, 2], [0, 2]], None)  # indices into the remaining heads
    assert [p.attention.bias_heads.tolist() for p in block_parts(twice)] == [[2, 3], [1, 3]]
    enc = batch(tok)
    with torch.no_grad(), masks_for(model, [[2, 3], [1, 3]], [list(range(48))] * 2):
        masked = model(**enc).logits
    with torch.no_grad():
        assert (masked - twice(**enc).logits).abs().max().item() < 1e-4


@pytest.mark.parametrize("value,expected", [(6, 6), (0.5, 6), (1.0, 12), (12, 12), (0.01, 1), (3.0, 3)])
def test_targets(value, expected):
    assert resolve_target(value, 12, "heads") == expected


@pytest.mark.parametrize("value,message", [(13, "more than the 12"), (0, "at least 1"), (2.5, "not a whole number"),
                                           (-1, "at least 1"), (True, "count or a ratio")])
def test_bad_targets(value, message):
    with pytest.raises(LeanformerError, match=message):
        resolve_target(value, 12, "heads")


def test_parse_target():
    assert parse_target("6") == 6 and parse_target("0.5") == 0.5 and parse_target(None) is None
    with pytest.raises(LeanformerError, match="neither a count nor a ratio"):
        parse_target("half")


def test_magnitude_scores_prefer_big_heads(tiny_model):
    model, _, _ = load_for_task(tiny_model("bert", layers=1), ["a", "b"])
    part = block_parts(model)[0]
    with torch.no_grad():
        part.query.weight[2 * part.head_size:3 * part.head_size] *= 50  # head 2 is now by far the largest
        part.ffn_in.weight[7] *= 50
    heads, neurons = magnitude_importance(model)
    assert top_k(heads, 1) == [[2]] and top_k(neurons, 1) == [[7]]
    assert heads[0].norm().item() == pytest.approx(1.0)  # normalised per layer


@pytest.fixture(scope="module")
def trained(trained_toy):
    return trained_toy["torch"]


def pcfg(model, out, **kw):
    return PruneConfig(model=str(model), output_dir=str(out), **{
        "epochs": 3, "batch_size": 16, "learning_rate": 3e-3, "bf16": False, "show_progress": False, "threads": 1,
        "importance_examples": 64, **kw})


def test_importance_uses_training_split_only(trained, tmp_path, monkeypatch):
    from leanformer.tasks.generic import GenericClassification
    seen = []
    original = GenericClassification.read_split
    monkeypatch.setattr(GenericClassification, "read_split", lambda self, split: (seen.append(split), original(self, split))[1])
    prune(pcfg(trained, tmp_path / "p", heads=2, redistill=False, eval_limit=8))
    assert seen[0] == "train" and "test" not in seen  # dev only for the report after pruning


def test_prune_then_redistill_recovers_and_records_lineage(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    result = prune(pcfg(trained, tmp_path / "p", heads=0.5, ffn=0.25))
    assert result["structure"]["heads_per_layer"] == [2, 2] and result["structure"]["ffn_per_layer"] == [12, 12]
    assert result["metrics"]["dev"]["accuracy"] >= 0.9
    assert not (tmp_path / "p.pruned").exists()
    model, _, manifest = load_model(tmp_path / "p")
    assert [e["step"] for e in manifest.lineage] == ["train", "prune", "distill"]
    assert manifest.lineage[1]["parameters"] < manifest.lineage[1]["parameters_before"]
    assert manifest.lineage[2]["teacher"] == str(trained)
    assert len(manifest.structure.heads[0]) == 2 and len(manifest.structure.neurons[1]) == 12
    # a pruned model can be pruned and distilled further like any other
    again = prune(pcfg(tmp_path / "p", tmp_path / "pp", ffn=6, epochs=1))
    assert again["structure"]["ffn_per_layer"] == [6, 6]
    assert all(set(n) <= set(m) for n, m in zip(load_model(tmp_path / "pp")[2].structure.neurons,
                                                 manifest.structure.neurons))


def test_prune_bad_target_writes_nothing(trained, tmp_path):
    with pytest.raises(LeanformerError, match="more than the 4"):
        prune(pcfg(trained, tmp_path / "p", heads=5))
    with pytest.raises(LeanformerError, match="nothing to prune"):
        prune(pcfg(trained, tmp_path / "p"))
    with pytest.raises(LeanformerError, match="expected one of once, greedy"):
        prune(pcfg(trained, tmp_path / "p", layers=1, layer_selection="best"))
    assert list(tmp_path.iterdir()) == []


def test_greedy_layer_selection_is_recorded_with_every_round(trained, tmp_path):
    prune(pcfg(trained, tmp_path / "p", layers=1, layer_selection="greedy", redistill=False, eval_limit=8))
    manifest = load_model(tmp_path / "p")[2]
    step = next(e for e in manifest.lineage if e["step"] == "prune")
    assert step["layer_selection"] == "greedy" and step["layers_kept"] == list(manifest.structure.layers)
    assert len(step["layer_rounds"]) == 1 and step["layer_rounds"][0] == step["layer_loss_rise"]
    assert step["layers_kept"] == [max(range(2), key=lambda i: step["layer_loss_rise"][i])]


def test_sweep_writes_table_and_plot_and_resumes(trained, tmp_path, monkeypatch):
    from leanformer.prune.sweep import SweepConfig, sweep
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    cfg = SweepConfig(model=str(trained), output_dir=str(tmp_path / "sweep"), targets=[(0.5, 0.5), (1, 6)],
                      epochs=1, batch_size=16, learning_rate=3e-3, bf16=False, show_progress=False, threads=1,
                      importance_examples=32, latency_examples=5)
    result = sweep(cfg)
    assert [(r["heads"], r["ffn"]) for r in result["rows"]] == [(4, 48), (2, 24), (1, 6)]
    assert result["rows"][2]["parameters"] < result["rows"][1]["parameters"] < result["rows"][0]["parameters"]
    out = tmp_path / "sweep"
    table = (out / "sweep.md").read_text()
    assert "| unpruned |" in table and "speed-up (int8 ORT)" in table and "1.00x" in table
    assert all(r["int8_ort_ms"] > 0 for r in result["rows"]) and (out / "onnx" / "heads2-ffn24-int8").is_dir()
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert len(json.loads((out / "sweep.json").read_text())) == 3
    # a second run finds both targets done and only re-times them
    calls = []
    monkeypatch.setattr("leanformer.prune.sweep.redistill_pruned", lambda *args: calls.append(args))
    sweep(cfg)
    assert calls == []


def test_sweep_target_pairs_and_recipe_levels_parse():
    from leanformer.prune.targets import parse_levels, parse_target_pairs
    assert parse_target_pairs("1.0:0.5,6:768") == [(1.0, 0.5), (6, 768)]
    with pytest.raises(LeanformerError, match="HEADS:FFN pairs"):
        parse_target_pairs("6")
    with pytest.raises(LeanformerError, match="HEADS:FFN pairs"):
        parse_target_pairs("6:1536:384")
    assert parse_levels("0.5:0.5,6:1536:384") == [(0.5, 0.5), (6, 1536, 384)]


def test_width_and_depth_in_two_distilled_steps_resume_and_reload(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    cfg = pcfg(trained, tmp_path / "p", hidden=0.5, layers=1, heads=2, steps=2, epochs=2, hidden_weight=1.0,
               attention_weight=1.0)
    result = prune(cfg)
    assert result["steps"] == 2 and result["metrics"]["dev"]["accuracy"] >= 0.8
    assert result["structure"] | {"head_size": 0} == {"heads_per_layer": [2], "ffn_per_layer": [48], "hidden": 16,
                                                      "layers": 1, "head_size": 0}
    step1 = load_model(tmp_path / "p-step1")[2]
    shape1 = next(e for e in step1.lineage if e["step"] == "prune")["shape"]
    assert shape1 == {"heads": 3, "ffn": None, "hidden": 24, "layers": 2}
    model, _, manifest = load_model(tmp_path / "p")
    assert len(manifest.structure.hidden) == 16 and set(manifest.structure.hidden) <= set(step1.structure.hidden)
    assert len(manifest.structure.layers) == 1 and len(model.bert.encoder.layer) == 1
    distilled = manifest.lineage[-1]
    assert distilled["step"] == "distill" and distilled["teacher"] == str(trained)
    assert distilled["loss"]["layer_map"] == [manifest.structure.layers[0] + 1]  # the teacher layer it was cut from
    # a rerun continues from the finished first step instead of redoing it
    mtime = (tmp_path / "p-step1" / "model.safetensors").stat().st_mtime_ns
    prune(dataclasses.replace(cfg, overwrite=True))
    assert (tmp_path / "p-step1" / "model.safetensors").stat().st_mtime_ns == mtime


def test_a_step_of_another_run_is_not_reused(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    prune(pcfg(trained, tmp_path / "p-step1", hidden=20, epochs=1))  # not the 24 a two-step run to 16 makes first
    with pytest.raises(LeanformerError, match="another pruning run"):
        prune(pcfg(trained, tmp_path / "p", hidden=16, steps=2, epochs=1))


def test_an_mpnet_teacher_cut_in_depth_width_and_heads_distils_and_exports(tmp_path, monkeypatch):
    """The frontier's path on the teacher's own family: per-layer heads under the shared position bias,
    hidden channels, importance-chosen layers, hidden and attention losses against the teacher."""
    from leanformer.export import ExportConfig, export_model
    from tests.conftest import train_toy

    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    teacher, _ = train_toy(tmp_path / "mpnet", layers=3, family="mpnet")
    result = prune(pcfg(teacher, tmp_path / "cut", layers=2, hidden=16, heads=3, epochs=1, hidden_weight=1.0,
                        attention_weight=1.0, cache_internals=True))
    assert result["structure"]["layers"] == 2 and result["structure"]["hidden"] == 16
    model, _, manifest = load_model(tmp_path / "cut")
    layer_map = [i + 1 for i in manifest.structure.layers]
    assert manifest.lineage[-1]["loss"]["layer_map"] == layer_map
    cached, = (tmp_path / "cache" / "teacher-internals").iterdir()  # what the losses read: 16 channels, 3 of 4
    assert json.loads((cached / "meta.json").read_text()) == {  # heads (so their average), 2 layers
        "hidden_index": [0, *layer_map], "layer_map": layer_map, "heads": [1, 1], "width": 16}
    exported = export_model(ExportConfig(model=str(tmp_path / "cut"), output_dir=str(tmp_path / "onnx")))
    assert exported["parity_max_abs_diff"] < 1e-4
