"""The pipeline declaration drives the recipe's steps and the bench's rows."""

import dataclasses
from pathlib import Path

from leanformer.bench import BenchConfig, ablation
from leanformer.pipeline import PIPELINE, ROW_KINDS, TUNED_KINDS, Row, Stage
from leanformer.recipe import RecipeConfig, _producers


def test_every_stage_has_a_bench_field_and_a_recipe_producer(tmp_path):
    fields = {f.name for f in dataclasses.fields(BenchConfig)}
    producers = _producers(RecipeConfig(), {"teacher": ["t"], "student": ["s"]}, tmp_path)
    assert [s.role for s in PIPELINE] == list(producers)
    assert all(s.role in fields for s in PIPELINE)
    assert len(ROW_KINDS) == len(set(ROW_KINDS)) and set(TUNED_KINDS) == {"instances", "pruned", "approximated"}


def test_bench_rows_follow_the_declaration(tmp_path, monkeypatch):
    tuned = []
    monkeypatch.setattr(ablation, "export_int8", lambda model, work, name, **kw: f"{name}-int8")
    monkeypatch.setattr(ablation, "_best_instances", lambda model, timing, cfg: tuned.append(model) or (2, 1))
    monkeypatch.setattr(ablation, "load_config", lambda model: None)
    monkeypatch.setattr(ablation, "max_sequence_length", lambda config: 256)
    extra = Stage("approx", True, (Row("peer", "+ approximate ({name})", int8=True, tuned=True),))
    monkeypatch.setattr(ablation, "PIPELINE", (*PIPELINE, extra))
    cfg = BenchConfig(teacher="t", student="s", pruned=["a/p1", "a/p2"], output_dir=str(tmp_path))
    object.__setattr__(cfg, "approx", ["b/x"])  # the field a new stage would add
    specs = ablation._pipeline_rows(cfg, Path(tmp_path), [])
    assert [s.name for s in specs] == [
        "teacher, PyTorch fp32, padded to 256", "+ dynamic sequence length", "+ distillation (student)",
        "+ int8 + ONNX Runtime graph optimisation", "+ multi-instance (2 x 1 threads)",
        "+ structured pruning (p1)", "+ structured pruning (p2)", "+ approximate (x)"]
    assert [s.model for s in specs] == ["t", "t", "s", "student-int8", "student-int8", "pruned1-int8",
                                        "pruned2-int8", "approx1-int8"]
    assert tuned == ["student-int8"]  # the pool is found once, on the first tuned row's model
    assert specs[0].fixed_length == 256 and all(s.fixed_length is None for s in specs[1:])
    assert [s.instances for s in specs] == [1, 1, 1, 1, 2, 2, 2, 2]
