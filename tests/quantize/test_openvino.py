"""OpenVINO beside ONNX Runtime: same logits in fp32, int8 checked against fp32, the backend chosen by timing."""

import numpy as np
import pytest

from leanformer.errors import LeanformerError
from leanformer.models import Manifest
from leanformer.quantize import QuantizeConfig, quantize_model
from leanformer.quantize.openvino import OpenVinoConfig, to_openvino
from leanformer.runtime.predictor import Predictor

TEXTS = ["the film is very good", "a dog is awful", "this book is fine", "the cat is bad"]


def test_openvino_fp32_matches_onnx_and_int8_is_checked(trained_toy, tmp_path):
    onnx_dir = str(trained_toy["onnx"])
    to_openvino(OpenVinoConfig(model=onnx_dir, output_dir=str(tmp_path / "fp32"), precision="fp32"))
    reference = Predictor(onnx_dir).logits(TEXTS)
    np.testing.assert_allclose(Predictor(str(tmp_path / "fp32")).logits(TEXTS), reference, atol=1e-3)
    result = quantize_model(QuantizeConfig(model=onnx_dir, output_dir=str(tmp_path / "int8"), backend="openvino"))
    manifest = Manifest.read(tmp_path / "int8")
    assert manifest.onnx.format == "openvino" and manifest.onnx.precision == "int8"
    assert manifest.lineage[-1]["agreement_with_fp32"] == result["agreement_with_fp32"] >= 0.9
    assert (Predictor(str(tmp_path / "int8")).logits(TEXTS).argmax(-1) == reference.argmax(-1)).mean() >= 0.75


def test_openvino_computes_float_parts_in_fp32_on_every_cpu(trained_toy, tmp_path):
    """OpenVINO's CPU default is bf16 where the CPU has AMX; the model must run at the precision it was checked at."""
    to_openvino(OpenVinoConfig(model=str(trained_toy["onnx"]), output_dir=str(tmp_path / "fp32"), precision="fp32"))
    import openvino
    backend = Predictor(str(tmp_path / "fp32")).backend
    assert backend.compiled.get_property("INFERENCE_PRECISION_HINT") == openvino.Type.f32


def test_auto_backend_records_its_choice_and_every_timing(trained_toy, tmp_path):
    result = quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=str(tmp_path / "auto"),
                                           backend="auto", variant="s8", timing_examples=16, timing_batch_size=4))
    assert result["backend"] in ("onnxruntime", "openvino") and set(result["measured"]) == {"onnxruntime", "openvino"}
    step = Manifest.read(tmp_path / "auto").lineage[-1]
    assert step["step"] == "choose backend" and step["backend"] == result["backend"] and step["batch_size"] == 4
    assert Predictor(str(tmp_path / "auto")).logits(TEXTS).shape == (4, 2)
    assert [p.name for p in tmp_path.iterdir()] == ["auto"]  # nothing else left beside it


def test_without_openvino_the_backend_names_the_extra(trained_toy, tmp_path, without_module):
    without_module("openvino")
    with pytest.raises(LeanformerError, match=r"pip install 'leanformer\[openvino\]'"):
        quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=str(tmp_path / "ov"),
                                      backend="openvino"))
    assert not (tmp_path / "ov").exists()


def test_openvino_backend_refuses_onnxruntime_only_options(trained_toy, tmp_path):
    with pytest.raises(LeanformerError, match=r"--exclude-layers, --embeddings: ONNX Runtime options"):
        quantize_model(QuantizeConfig(model=trained_toy["onnx"], output_dir=str(tmp_path / "ov"), backend="openvino",
                                      exclude_layers=[0], embeddings=True))
    assert not (tmp_path / "ov").exists()
