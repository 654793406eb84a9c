import json

import pytest

from leanformer.bench import BenchConfig, run_bench
from leanformer.distill import DistillConfig, distill
from leanformer.prune import PruneConfig, prune


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
    ablation = rows[:6]
    for r in ablation:
        assert r["cumulative_speedup"] == pytest.approx(rows[0]["seconds"] / r["seconds"])
        assert 0 <= r["metric"] <= 1 and r["usd_per_100m"] > 0 and r["joules"] >= 0
    assert rows[2]["step_speedup"] == pytest.approx(rows[1]["seconds"] / rows[2]["seconds"])
    assert rows[1]["metric"] == pytest.approx(rows[0]["metric"], abs=0.05)  # padding changes speed, not answers
    out = tmp_path / "bench"
    table = (out / "report.md").read_text()
    assert "| + distillation (student) |" in table and "USD 0.677/h" in table
    assert (out / "accuracy_vs_speed.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "pruning_tradeoff.png").is_file()
    assert json.loads((out / "report.json").read_text())["machine"]["physical_cores"] >= 1
    assert len((out / "report.csv").read_text().splitlines()) == len(rows) + 1
