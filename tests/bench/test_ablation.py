import json

import pytest

from leanformer.bench import BenchConfig, run_bench
from leanformer.bench import ablation
from leanformer.bench.ablation import RowSpec, measure_rows
from leanformer.bench.systems import System
from leanformer.distill import DistillConfig, distill
from leanformer.models import Manifest
from leanformer.prune import PruneConfig, prune
from leanformer.tasks import task_for


def test_tiny_end_to_end_ablation(trained_toy, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    common = dict(epochs=2, batch_size=16, learning_rate=3e-3, bf16=False, show_progress=False, threads=1)
    distill(DistillConfig(teacher=str(trained_toy["torch"]), output_dir=str(tmp_path / "student"), student_layers=[0],
                          **common))
    prune(PruneConfig(model=str(tmp_path / "student"), output_dir=str(tmp_path / "pruned"), heads=2, ffn=0.5,
                      redistill=False, importance_examples=32, **common))
    result = run_bench(BenchConfig(teacher=str(trained_toy["torch"]), student=str(tmp_path / "student"),
                                   pruned=[str(tmp_path / "pruned")], output_dir=str(tmp_path / "bench"),
                                   split="dev", timing_examples=10, repeats=2, warmup=2, baseline_length=64,
                                   show_progress=False))
    rows = result["rows"]
    names = [r["row"] for r in rows]
    assert names[0].startswith("teacher, PyTorch fp32, padded to 64") and names[1] == "+ dynamic sequence length"
    assert names[3] == "+ int8 + ONNX Runtime graph optimisation" and names[4].startswith("+ multi-instance")
    assert names[5] == "+ structured pruning (pruned)" and rows[6]["peer"] and "Optimum" in names[6]
    assert rows[7]["peer"] and "torchao" in names[7]
    assert [n for n in names[8:]] == ["peer: student, OpenVINO int8 (NNCF post-training quantization)",
                                      "peer: student, CTranslate2 int8"]
    ablation = rows[:6]
    for r in ablation:
        assert r["cumulative_speedup"] == pytest.approx(rows[0]["seconds"] / r["seconds"])
        assert 0 <= r["metric"] <= 1 and r["usd_per_100m"] > 0 and r["joules"] >= 0
    assert rows[2]["step_speedup"] == pytest.approx(rows[1]["seconds"] / rows[2]["seconds"])
    # padding changes speed, not answers: the padded baseline reuses the dynamic row's metric after checking that
    assert rows[0]["metric"] == rows[1]["metric"] and "same predictions on the 10 timed" in rows[0]["accuracy_note"]
    out = tmp_path / "bench"
    table = (out / "report.md").read_text()
    assert "| + distillation (student) |" in table and "USD 0.677/h" in table and "same predictions" in table
    assert (out / "accuracy_vs_speed.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "pruning_tradeoff.png").is_file()
    assert json.loads((out / "report.json").read_text())["machine"]["physical_cores"] >= 1
    assert len((out / "report.csv").read_text().splitlines()) == len(rows) + 1


def test_padded_row_scores_itself_when_predictions_differ(trained_toy, monkeypatch):
    task = task_for(Manifest.read(trained_toy["torch"]).task)
    examples = task.examples("dev")
    specs = [RowSpec("dynamic", str(trained_toy["torch"]), "teacher", threads=1),
             RowSpec("padded", str(trained_toy["torch"]), "baseline", threads=1, fixed_length=64)]
    settings = dict(warmup=1, repeats=1, show_progress=False, twins={1: 0})
    dynamic, reused = measure_rows(specs, examples, examples[:8], task, **settings)
    assert reused["metric"] == dynamic["metric"] and "same predictions on the 8 timed" in reused["accuracy_note"]
    monkeypatch.setattr(ablation, "_same_predictions", lambda a, b: False)
    _, checked = measure_rows(specs, examples, examples[:8], task, **settings)
    own = measure_rows(specs[1:], examples, examples[:8], task, warmup=1, repeats=1, show_progress=False)[0]
    assert "accuracy_note" not in checked and checked["metric"] == own["metric"] >= 0


def test_rows_are_timed_in_interleaved_rounds(trained_toy, monkeypatch):
    """Every round times each row once, so a slow phase of the machine falls on all rows alike."""
    task = task_for(Manifest.read(trained_toy["torch"]).task)
    examples = task.examples("dev")[:8]
    order = []
    timed_pass = System.timed_pass

    def recording(self, features):
        order.append((id(self), len(features)))
        return timed_pass(self, features)

    monkeypatch.setattr(System, "timed_pass", recording)
    specs = [RowSpec(name, str(trained_toy["torch"]), "teacher", threads=1) for name in ("a", "b")]
    rows = measure_rows(specs, examples, examples, task, warmup=2, repeats=3, show_progress=False)
    timed = [system for system, n in order if n == len(examples)]
    assert len(timed) == 6 and timed[0] != timed[1] and timed[::2] == [timed[0]] * 3 and timed[1::2] == [timed[1]] * 3
    assert [n for _, n in order[::2]] == [2] * 6  # each timed pass follows its own warm-up
    assert all(r["seconds"] > 0 for r in rows)
