"""The input length chosen at training time travels with the model: later steps use it without being told."""

import json

import leanformer.runtime.predictor as predictor_module
from leanformer.bench import BenchConfig, run_bench
from leanformer.export import ExportConfig, export_model
from leanformer.runtime.batch import PredictConfig, predict_file
from leanformer.runtime.tune import TuneConfig, tune_instances
from leanformer.tasks import TaskConfig
from leanformer.training import TrainConfig, train


def test_a_model_trained_at_6_tokens_is_predicted_tuned_and_benched_at_6(tiny_model, toy_dataset, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "m"
    train(TrainConfig(model=str(tiny_model("bert")), task=TaskConfig(name="generic", data_dir=str(toy_dataset)),
                      output_dir=str(model), epochs=1, max_length=6, bf16=False, threads=1, show_progress=False))
    assert json.loads((model / "leanformer.json").read_text())["max_length"] == 6
    export_model(ExportConfig(model=str(model), output_dir=str(tmp_path / "onnx")))

    seen = []
    real_encode = predictor_module.encode
    monkeypatch.setattr(predictor_module, "encode", lambda ex, tok, n: (seen.append(n), real_encode(ex, tok, n))[1])
    predict_file(PredictConfig(model=str(tmp_path / "onnx"), output=str(tmp_path / "p.jsonl"), show_progress=False))
    tune_instances(TuneConfig(model=str(tmp_path / "onnx"), examples=8, batch_sizes=[1], save=False))
    run_bench(BenchConfig(teacher=str(model), student=str(model), output_dir=str(tmp_path / "bench"), split="dev",
                          timing_examples=3, repeats=1, warmup=1, limit=10, peers=False, show_progress=False))
    # every run read 6; the one exception is the bench's padded baseline row, padded to the model's limit by design
    assert 6 in seen and set(seen) - {6} <= {160}, seen


def test_an_explicit_length_still_wins(trained_toy):
    assert predictor_module.Predictor(trained_toy["onnx"], max_length=9).inputs.max_length == 9
    assert predictor_module.Predictor(trained_toy["onnx"]).inputs.max_length == 128  # trained at the default
