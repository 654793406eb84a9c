import pytest

from leanformer.errors import LeanformerError
from leanformer.models import Manifest
from leanformer.recipe import RecipeConfig, run_recipe
from leanformer.tasks import TaskConfig


def test_recipe_runs_every_step_and_resumes(tiny_model, toy_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    teacher = tiny_model("bert", layers=2)
    student = tiny_model("roberta", layers=1)
    cfg = RecipeConfig(output_dir=str(tmp_path / "r"), task=TaskConfig(name="generic", data_dir=str(toy_dataset)),
                       teacher_model=str(teacher), student_model=str(student), teacher_epochs=1, student_epochs=1,
                       prune_levels=[(0.5, 0.5)], prune_steps=1, split="dev", timing_examples=5, repeats=1)
    result = run_recipe(cfg)
    assert len(result["rows"]) == 9  # 5 ablation rows, 1 pruning level, 3 peers (Optimum-style, torchao, OpenVINO)
    assert "OpenVINO" in result["rows"][-1]["row"] and result["rows"][-1]["batched_queries_per_second"] > 0
    assert {p.name for p in (tmp_path / "r").iterdir()} >= {"teacher", "student", "pruned-h0.5-f0.5", "report"}
    mtime = (tmp_path / "r" / "student" / "model.safetensors").stat().st_mtime_ns
    run_recipe(cfg)  # finished steps are reused, not redone
    assert (tmp_path / "r" / "student" / "model.safetensors").stat().st_mtime_ns == mtime


def test_student_cut_from_the_teacher_and_step_times_in_the_report(tiny_model, toy_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    cfg = RecipeConfig(output_dir=str(tmp_path / "r"), task=TaskConfig(name="generic", data_dir=str(toy_dataset)),
                       teacher_model=str(tiny_model("bert", layers=2)), student_depth=1, train_limit=120,
                       distill_limit=60, teacher_epochs=1, student_epochs=1, prune_levels=[(0.5, 0.5, 0.5)],
                       prune_steps=1, approximate="faster", approximate_budget=0.05, split="dev", timing_examples=5,
                       repeats=1)
    assert cfg.student_source == "depth"
    result = run_recipe(cfg)
    student = Manifest.read(tmp_path / "r" / "student")
    assert student.lineage[-1]["train_examples"] == 60 and len(student.structure.layers) == 1
    assert student.lineage[-1]["loss"]["hidden_weight"] == student.lineage[-1]["loss"]["attention_weight"] == 1.0
    pruned = Manifest.read(tmp_path / "r" / "pruned-h0.5-f0.5-d0.5")
    assert pruned.lineage[-1]["teacher"] == str(tmp_path / "r" / "teacher") and pruned.structure.hidden is not None
    assert [s["step"] for s in result["recipe_steps"]][:2] == ["fine-tune the teacher", "cut the student from the teacher"]
    assert "approximate the student (faster)" in [s["step"] for s in result["recipe_steps"]]
    assert [r["row"] for r in result["rows"] if r["kind"] == "approximated"] == ["+ approximate computing (approx-faster)"]
    assert result["rows"][1]["vs_teacher"] == 0 and 0 < result["majority_share"] < 1
    report = (tmp_path / "r" / "report" / "report.md").read_text()
    assert "| recipe step | wall time (s) |" in report and "vs teacher (pt)" in report


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(LeanformerError, match="unknown preset 'fast'; expected one of demo, full"):
        RecipeConfig.preset("fast")
    demo = RecipeConfig.preset("demo", output_dir="x")
    assert demo.student_layers == [0, 2, 4] and demo.student_source == "layers" and demo.task.name == "polarity"
    assert RecipeConfig.preset("full").task.name == "vitaminc"  # the frontier's task
    assert RecipeConfig.preset("full").student_source == "depth"
    # naming a student source replaces the preset's
    assert RecipeConfig.preset("demo", student_depth=4).student_source == "depth"
    assert RecipeConfig.preset("full", student_model="all-MiniLM-L6-v2").student_source == "model"
    with pytest.raises(LeanformerError, match="no student"):
        RecipeConfig(student_depth=None)
