from leanformer.recipe import RecipeConfig, run_recipe
from leanformer.tasks import TaskConfig


def test_recipe_runs_every_step_and_resumes(tiny_model, toy_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    teacher = tiny_model("bert", layers=2)
    student = tiny_model("roberta", layers=1)
    cfg = RecipeConfig(output_dir=str(tmp_path / "r"), task=TaskConfig(name="generic", data_dir=str(toy_dataset)),
                       teacher_model=str(teacher), student_model=str(student), teacher_epochs=1, student_epochs=1,
                       prune_levels=[(0.5, 0.5)], split="dev", timing_examples=5, repeats=1)
    result = run_recipe(cfg)
    assert len(result["rows"]) == 8  # 5 ablation rows, 1 pruning level, 2 peers
    assert {p.name for p in (tmp_path / "r").iterdir()} >= {"teacher", "student", "pruned-h0.5-f0.5", "report"}
    mtime = (tmp_path / "r" / "student" / "model.safetensors").stat().st_mtime_ns
    run_recipe(cfg)  # finished steps are reused, not redone
    assert (tmp_path / "r" / "student" / "model.safetensors").stat().st_mtime_ns == mtime
