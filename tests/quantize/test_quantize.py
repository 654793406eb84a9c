import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from leanformer.errors import LeanformerError
from leanformer.quantize import Fp16Config, QuantizeConfig, convert_fp16, quantize_model
from leanformer.runtime import Predictor
from leanformer.tasks import TaskConfig, get_task


def dev(data):
    return get_task(TaskConfig(name="generic", data_dir=str(data))).examples("dev")


def test_auto_variant_is_measured_and_accuracy_holds(trained_toy, tmp_path):
    out = tmp_path / "int8"
    result = quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=str(out), timing_examples=8,
                                           threads=1))
    assert set(result["median_ms_by_variant"]) == {"s8", "s8-matmul-only", "u8", "u8-matmul-only"}
    assert result["variant"] == min(result["median_ms_by_variant"], key=result["median_ms_by_variant"].get)
    manifest = json.loads((out / "leanformer.json").read_text())
    assert manifest["onnx"]["precision"] == "int8" and manifest["lineage"][-1]["reason"].startswith("fastest of 4")
    examples = dev(trained_toy["data"])
    labels = np.array([e.label for e in examples])
    fp32 = Predictor(trained_toy["onnx"], batch_size=8).logits(examples)
    int8 = Predictor(out, batch_size=8).logits(examples)
    assert (int8.argmax(1) == labels).mean() >= (fp32.argmax(1) == labels).mean() - 0.05
    assert np.abs(int8 - fp32).max() < 0.5  # close, not equal: it is int8


def test_weights_have_per_channel_scales(trained_toy, tmp_path):
    quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=str(tmp_path / "q"), variant="s8"))
    graph = onnx.load(str(tmp_path / "q" / "model.onnx")).graph
    scales = [numpy_helper.to_array(i) for i in graph.initializer if i.name.endswith("_scale")]
    assert scales and any(s.ndim == 1 and s.size > 1 for s in scales)
    ops = {n.op_type for n in graph.node}
    assert "QAttention" in ops and ({"MatMulInteger", "DynamicQuantizeMatMul"} & ops)


def test_excluded_layer_stays_float(trained_toy, tmp_path):
    result = quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=str(tmp_path / "q"),
                                           variant="s8", exclude_layers=[1]))
    assert any("layer.1/" in n for n in result["excluded_nodes"]) and "Attention_1" in result["excluded_nodes"]
    graph = onnx.load(str(tmp_path / "q" / "model.onnx")).graph
    assert sum(n.op_type == "Attention" for n in graph.node) == 1  # layer 1's attention kept in float
    assert sum(n.op_type == "QAttention" for n in graph.node) == 1


def test_bad_quantize_requests(trained_toy, tmp_path):
    with pytest.raises(LeanformerError, match="unknown variant"):
        quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=str(tmp_path / "q"), variant="int4"))
    with pytest.raises(LeanformerError, match="nodes to exclude not found"):
        quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=str(tmp_path / "q"),
                                      exclude_nodes=["nope"]))
    with pytest.raises(LeanformerError, match="not an exported leanformer ONNX model"):
        quantize_model(QuantizeConfig(model=str(trained_toy["torch"]), output_dir=str(tmp_path / "q")))
    assert not (tmp_path / "q").exists()


def test_fp16_conversion(trained_toy, tmp_path):
    convert_fp16(Fp16Config(model=str(trained_toy["onnx"]), output_dir=str(tmp_path / "fp16")))
    model = onnx.load(str(tmp_path / "fp16" / "model.onnx"))
    onnx.checker.check_model(model)
    types = {i.data_type for i in model.graph.initializer if numpy_helper.to_array(i).dtype.kind == "f"}
    assert types == {onnx.TensorProto.FLOAT16}
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # keep_io_types
    manifest = json.loads((tmp_path / "fp16" / "leanformer.json").read_text())
    assert manifest["onnx"]["precision"] == "fp16" and manifest["onnx"]["provider"] == "CUDAExecutionProvider"


def test_int8_embeddings_shrink_the_file_and_keep_the_answers(trained_toy, tmp_path):
    plain, small = tmp_path / "plain", tmp_path / "small"
    quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=str(plain), variant="s8"))
    quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=str(small), variant="s8",
                                  embeddings=True))
    graph = onnx.load(str(small / "model.onnx")).graph
    assert "QEmbedLayerNormalization" in {n.op_type for n in graph.node}
    assert (small / "model.onnx").stat().st_size < (plain / "model.onnx").stat().st_size
    assert json.loads((small / "leanformer.json").read_text())["onnx"]["quantization"]["embeddings"] == "int8"
    examples = dev(trained_toy["data"])
    same = Predictor(small).logits(examples).argmax(1) == Predictor(plain).logits(examples).argmax(1)
    assert same.mean() >= 0.95


def test_int4_layers_store_their_matrix_weights_in_4_bits(trained_toy, tmp_path):
    plain, small = tmp_path / "plain", tmp_path / "small"
    quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=str(plain), variant="s8"))
    quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=str(small), variant="s8",
                                  int4_layers=[1]))
    nodes = onnx.load(str(small / "model.onnx")).graph.node
    four_bit = [n.name for n in nodes if n.op_type == "MatMulNBits"]
    assert four_bit and all("layer.1/" in n for n in four_bit)  # only layer 1's, and layer 0 is still int8
    assert {n.op_type for n in nodes if "layer.0/" in n.name} & {"DynamicQuantizeMatMul", "MatMulInteger"}
    assert (small / "model.onnx").stat().st_size < (plain / "model.onnx").stat().st_size
    assert json.loads((small / "leanformer.json").read_text())["onnx"]["quantization"]["int4_layers"] == [1]
    examples = dev(trained_toy["data"])
    fp32 = Predictor(trained_toy["onnx"]).logits(examples)
    int4 = Predictor(small).logits(examples)
    assert (int4.argmax(1) == fp32.argmax(1)).mean() >= 0.9
    assert np.abs(int4 - fp32).max() < 1.0  # close, not equal: 4-bit weights


def test_int4_requests_are_checked(trained_toy, tmp_path):
    with pytest.raises(LeanformerError, match="both kept in floating point and stored in 4 bits"):
        quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=str(tmp_path / "q"), variant="s8",
                                      exclude_layers=[1], int4_layers=[1]))
    with pytest.raises(LeanformerError, match=r"int4 layers \[7\]"):
        quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=str(tmp_path / "q"), variant="s8",
                                      int4_layers=[7]))
    assert not (tmp_path / "q").exists()
