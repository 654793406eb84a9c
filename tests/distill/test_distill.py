import copy
import json

import numpy as np
import pytest
import torch
from transformers import BertTokenizerFast

from leanformer.distill import DistillConfig, DistillationLoss, distill
from leanformer.distill.distiller import teacher_trunk
from leanformer.distill.losses import soft_target_loss, uniform_layer_map
from leanformer.distill.teacher_cache import TeacherLogits, example_key
from leanformer.data.features import encode
from leanformer.errors import LeanformerError
from leanformer.models import load_for_task, load_model
from leanformer.models.inference import predict_logits
from leanformer.models.anatomy import keep_layers, layers, set_activation
from leanformer.tasks import TaskConfig
from tests.conftest import FAMILIES, VOCAB, train_toy


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A 3-layer BERT fine-tuned on the toy task (3 layers, so students can keep a non-prefix subset)."""
    return train_toy(tmp_path_factory.mktemp("teacher"), layers=3)[0]


def cfg(teacher, out, **kw):
    return DistillConfig(teacher=str(teacher), output_dir=str(out), **{
        "epochs": 6, "batch_size": 16, "learning_rate": 3e-3, "bf16": False, "show_progress": False, "threads": 1, **kw})


def test_soft_target_loss_zero_iff_equal():
    logits = torch.randn(5, 3)
    assert soft_target_loss(logits, logits.clone(), 2.0).item() == pytest.approx(0.0, abs=1e-7)
    assert soft_target_loss(logits, logits + torch.randn(5, 3), 2.0).item() > 1e-3


def test_full_loss_is_zero_when_student_equals_teacher(teacher):
    model, tok, _ = load_model(teacher)
    model.eval()
    enc = tok(["the cat is good", "a dog is very bad"], padding=True, return_tensors="pt")
    with torch.no_grad():
        t_logits = model(**enc).logits
    c = cfg(teacher, "unused", alpha=0.0, hidden_weight=1.0, attention_weight=1.0)
    model.set_attn_implementation("eager")
    loss = DistillationLoss(c, t_logits, teacher_trunk(copy.deepcopy(model), [1, 2, 3]), [1, 2, 3], None)
    assert loss(model, dict(enc), np.arange(2), torch.tensor([1, 0])).item() == pytest.approx(0.0, abs=1e-6)
    soft_only = DistillationLoss(cfg(teacher, "unused"), t_logits, None, [], None)
    assert soft_only(model, dict(enc), np.arange(2), torch.tensor([1, 0])).item() == pytest.approx(0.0, abs=1e-6)


def test_teacher_trunk_gives_the_intermediate_losses_of_the_whole_teacher(teacher):
    model, tok, _ = load_model(teacher)
    model.eval().set_attn_implementation("eager")
    student = keep_layers(copy.deepcopy(model), [0, 1])
    enc = dict(tok(["the cat is good", "a dog is very bad"], padding=True, return_tensors="pt"))
    with torch.no_grad():
        t_logits = model(**enc).logits
        student.classifier.weight.mul_(0.5)  # a student that differs from its teacher
        student.bert.encoder.layer[1].output.dense.weight.mul_(0.5)
    c = cfg(teacher, "unused", alpha=0.0, hidden_weight=1.0, attention_weight=1.0)
    full = DistillationLoss(c, t_logits, teacher_trunk(copy.deepcopy(model), [1, 2, 3]), [1, 2], None)
    trunk = teacher_trunk(copy.deepcopy(model), [1, 2])
    assert len(trunk.encoder.layer) == 2  # the teacher's third layer never runs
    cut = DistillationLoss(c, t_logits, trunk, [1, 2], None)
    args = (student, enc, np.arange(2), torch.tensor([1, 0]))
    assert full(*args).item() > 1e-3
    assert cut(*args).item() == pytest.approx(full(*args).item(), rel=1e-6)


def test_uniform_layer_map():
    assert uniform_layer_map(4, 12) == [3, 6, 9, 12]
    assert uniform_layer_map(3, 12) == [4, 8, 12]
    assert uniform_layer_map(6, 6) == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("family", FAMILIES)
def test_layer_selected_student_reproduces_kept_layers(tiny_model, family):
    full, tok, _ = load_for_task(tiny_model(family, layers=4), ["a", "b"])
    full.eval()
    cut = keep_layers(copy.deepcopy(full), [0, 1])
    assert cut.config.num_hidden_layers == 2 and len(layers(cut)) == 2
    enc = tok(["the cat sat on the mat", "a dog"], ["it is good", "no"], padding=True, return_tensors="pt")
    with torch.no_grad():
        a = full(**enc, output_hidden_states=True).hidden_states
        b = cut(**enc, output_hidden_states=True).hidden_states
    for i in range(3):  # embeddings and the two kept layers compute exactly what the teacher computed
        torch.testing.assert_close(a[i], b[i])
    # a non-prefix selection runs the teacher's own block 2 on block 0's output
    skip = keep_layers(copy.deepcopy(full), [0, 2])
    assert layers(skip)[1] is not layers(full)[2] and torch.equal(
        next(layers(skip)[1].parameters()), next(layers(full)[2].parameters()))


def test_bad_layer_selection(tiny_model):
    model, _, _ = load_for_task(tiny_model("bert", layers=2), ["a", "b"])
    for keep in ([], [0, 0], [2]):
        with pytest.raises(LeanformerError, match="distinct indices in 0..1"):
            keep_layers(copy.deepcopy(model), keep)


@pytest.mark.parametrize("family", ["bert", "distilbert", "mpnet"])
def test_relu_swap_survives_save_and_load(tiny_model, tmp_path, family):
    model, tok, _ = load_for_task(tiny_model(family), ["a", "b"])
    model.eval()
    enc = tok(["the cat is good"], return_tensors="pt")
    gelu = model(**enc).logits
    set_activation(model, "relu")
    relu = model(**enc).logits
    assert not torch.allclose(gelu, relu)
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    again, _, _ = load_for_task(tmp_path / "m", ["a", "b"])
    again.eval()
    assert sum(isinstance(m, torch.nn.ReLU) for m in again.modules()) == again.config.num_hidden_layers
    torch.testing.assert_close(again(**enc).logits, relu)


def test_teacher_logits_cached_once(teacher, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    model, tok, manifest = load_model(teacher)
    from leanformer.tasks import get_task
    examples = get_task(TaskConfig.from_dict(manifest.task)).examples("train")
    calls = []
    original_forward = model.forward
    model.forward = lambda *a, **k: (calls.append(1), original_forward(*a, **k))[1]
    distinct = lambda exs: len({example_key(e) for e in exs})  # noqa: E731 - the toy data repeats texts
    first = TeacherLogits(model, tok, teacher, 32, False, False, show_progress=False)
    a = first.get(examples[:100])
    n_calls = len(calls)
    assert first.computed == distinct(examples[:100]) and n_calls > 0
    second = TeacherLogits(model, tok, teacher, 32, False, False, show_progress=False)
    b = second.get(examples[:100])
    assert second.computed == 0 and len(calls) == n_calls  # no second teacher forward
    np.testing.assert_array_equal(a, b)
    c = second.get(examples[50:160])  # only texts not seen before reach the teacher
    assert second.computed == distinct(examples[:160]) - distinct(examples[:100]) > 0
    np.testing.assert_array_equal(c[:50], a[50:])


def test_teacher_logits_of_a_killed_run_keep_their_finished_chunks(teacher, tmp_path, monkeypatch):
    from leanformer.distill import teacher_cache
    from leanformer.tasks import get_task

    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(teacher_cache, "SAVE_EVERY", 30)
    model, tok, manifest = load_model(teacher)
    examples = list({example_key(e): e for e in get_task(TaskConfig.from_dict(manifest.task)).examples("train")}
                    .values())[:80]  # distinct texts
    original, batches = teacher_cache.predict_logits, []

    def killed_in_the_third_chunk(*a, **k):
        if len(batches) == 2:
            raise KeyboardInterrupt("killed")
        batches.append(1)
        return original(*a, **k)

    monkeypatch.setattr(teacher_cache, "predict_logits", killed_in_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        TeacherLogits(model, tok, teacher, 32, False, False, show_progress=False).get(examples)
    monkeypatch.setattr(teacher_cache, "predict_logits", original)
    again = TeacherLogits(model, tok, teacher, 32, False, False, show_progress=False)
    logits = again.get(examples)
    assert len(examples) > 60 and again.computed == len(examples) - 60  # the two finished chunks of 30 were kept
    fresh = predict_logits(model, encode(examples, tok, 32), tok.pad_token_id, False, show_progress=False)
    np.testing.assert_allclose(logits, fresh, atol=1e-5)


def test_cross_family_student_with_own_tokenizer_learns(teacher, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    student = tiny_model("roberta", hidden=24, heads=3)
    # a different tokenizer: same words, other ids
    BertTokenizerFast(vocab={w: i for i, w in enumerate(VOCAB[:5] + VOCAB[5:][::-1])},
                      model_input_names=["input_ids", "attention_mask"]).save_pretrained(student)
    result = distill(cfg(teacher, tmp_path / "student", student=str(student)))
    assert result["metrics"]["dev"]["accuracy"] >= 0.9
    _, _, manifest = load_model(tmp_path / "student")
    step = manifest.lineage[-1]
    assert step["step"] == "distill" and step["teacher"] == str(teacher) and step["teacher_logits_computed"] > 0
    assert step["loss"]["temperature"] == 2.0 and step["teacher_metrics"]["dev"]["accuracy"] >= 0.9
    # a second run reuses the cached logits
    again = distill(cfg(teacher, tmp_path / "student2", student=str(student), epochs=1))
    assert json.loads((tmp_path / "student2" / "leanformer.json").read_text())["lineage"][-1]["teacher_logits_computed"] == 0
    assert again["output_dir"].endswith("student2")


def test_layer_selected_relu_student_with_tinybert_losses(teacher, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    result = distill(cfg(teacher, tmp_path / "small", student_layers=[0, 2], relu=True, hidden_weight=1.0,
                         attention_weight=1.0, alpha=0.5))
    model, _, manifest = load_model(tmp_path / "small")
    assert model.config.num_hidden_layers == 2 and model.config.hidden_act == "relu"
    assert manifest.lineage[0]["step"] == "train" and manifest.lineage[-1]["step"] == "distill"  # extends the teacher's
    assert manifest.lineage[-1]["loss"]["layer_map"] == [2, 3]
    assert result["metrics"]["dev"]["accuracy"] >= 0.9


def test_intermediate_losses_need_shared_tokenizer(teacher, tiny_model, tmp_path):
    student = tiny_model("bert", hidden=16, heads=2)
    BertTokenizerFast(vocab={w: i for i, w in enumerate(VOCAB[::-1])}).save_pretrained(student)
    with pytest.raises(LeanformerError, match="need the student to use the teacher's tokenizer"):
        distill(cfg(teacher, tmp_path / "s", student=str(student), hidden_weight=1.0))
    assert not (tmp_path / "s").exists() and not (tmp_path / "s.work").exists()


def test_projection_for_narrower_student(teacher, tiny_model, tmp_path):
    student = tiny_model("bert", hidden=16, heads=2, layers=1)
    result = distill(cfg(teacher, tmp_path / "narrow", student=str(student), hidden_weight=1.0, epochs=1))
    assert json.loads((tmp_path / "narrow" / "leanformer.json").read_text())["lineage"][-1]["loss"]["layer_map"] == [3]
    assert "dev" in result["metrics"]


def test_bad_settings(teacher, tmp_path):
    with pytest.raises(LeanformerError, match="temperature must be positive"):
        distill(cfg(teacher, tmp_path / "x", temperature=0))
    with pytest.raises(LeanformerError, match="give --hidden-weight or --attention-weight too"):
        distill(cfg(teacher, tmp_path / "x", cache_internals=True))
    with pytest.raises(LeanformerError, match="layer map needs one teacher layer"):
        distill(cfg(teacher, tmp_path / "x", student_layers=[0], hidden_weight=1.0, layer_map=[4]))


def test_hidden_loss_of_a_width_pruned_student_compares_the_kept_channels():
    from leanformer.distill.losses import hidden_state_loss

    teacher = [torch.randn(2, 5, 8) for _ in range(3)]
    kept = torch.tensor([1, 4, 6])
    student = [h.index_select(-1, kept).clone() for h in teacher]
    mask = torch.ones(2, 5)
    assert hidden_state_loss(student, teacher, [1, 2], mask, None, kept).item() == 0.0
    assert hidden_state_loss(student, teacher, [1, 2], mask, None, torch.tensor([0, 4, 6])).item() > 1e-3
