"""Mixed precision keeps the sample metric within its budget and writes an ordinary quantized model."""

import json

from leanformer.approx import MixedPrecisionConfig, mixed_precision
from leanformer.models import Manifest


def test_layers_are_quantized_while_the_metric_holds(trained_toy, tmp_path):
    cfg = MixedPrecisionConfig(model=str(trained_toy["onnx"]), output_dir=str(tmp_path / "mixed"), budget=0.02,
                               examples=64, threads=1, show_progress=False)
    result = mixed_precision(cfg)
    assert sorted(result["int8_layers"] + result["float_layers"]) == [0, 1]
    assert result["sample_mixed"] >= result["sample_fp32"] * 0.98
    assert set(result["layer_sensitivity"]) == {0, 1}
    manifest = Manifest.read(tmp_path / "mixed")
    assert manifest.onnx.precision == "int8" and manifest.lineage[-1]["step"] == "quantize"


def test_an_analysis_table_orders_the_layers_without_measuring_each(trained_toy, tmp_path):
    table = tmp_path / "significance.json"
    table.write_text(json.dumps({"rows": [{"layer": 0, "kind": "ffn", "loss_change": 0.5},
                                          {"layer": 1, "kind": "attention", "loss_change": 0.1}]}))
    result = mixed_precision(MixedPrecisionConfig(model=str(trained_toy["onnx"]), output_dir=str(tmp_path / "m"),
                                                  budget=0.5, significance=str(table), examples=32, threads=1,
                                                  show_progress=False))
    assert result["layer_sensitivity"] is None and result["int8_layers"] == [0, 1]


def test_int4_goes_to_the_tolerant_int8_layers_within_the_budget(trained_toy, tmp_path):
    cfg = MixedPrecisionConfig(model=str(trained_toy["onnx"]), output_dir=str(tmp_path / "m"), budget=0.5,
                               examples=64, threads=1, int4=True, embeddings=True, show_progress=False)
    result = mixed_precision(cfg)
    assert result["int4_layers"] and not set(result["int4_layers"]) & set(result["int8_layers"] + result["float_layers"])
    assert result["sample_mixed"] >= result["sample_fp32"] * 0.5
    quantization = Manifest.read(tmp_path / "m").onnx.quantization
    assert quantization["int4_layers"] == result["int4_layers"] and quantization["embeddings"] == "int8"
