"""Ray Data predictions equal the local predictor's, in input order; a missing Ray is a one-line error."""

import json

import numpy as np
import pytest

from leanformer.errors import LeanformerError
from leanformer.quantize import QuantizeConfig, quantize_model
from leanformer.runtime.batch import PredictConfig, predict_file
from leanformer.runtime.multi_instance import MultiInstancePredictor
from leanformer.runtime.predictor import PredictorConfig
from leanformer.runtime.ray_engine import ray_logits
from leanformer.tasks import TaskConfig, get_task


def test_ray_predictions_equal_local_ones_in_input_order(trained_toy, tmp_path, local_ray):
    common = {"model": str(trained_toy["onnx"]), "split": "dev", "batch_size": 7, "show_progress": False}
    local = predict_file(PredictConfig(output=str(tmp_path / "local.jsonl"), **common))
    remote = predict_file(PredictConfig(output=str(tmp_path / "ray.jsonl"), engine="ray", instances=2, **common))
    assert remote["examples"] == local["examples"] == 40 and remote["metrics"] == local["metrics"]
    assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "local.jsonl").read_text()
    first = json.loads((tmp_path / "ray.jsonl").read_text().splitlines()[0])
    assert str(first["idx"]) == str(json.loads((trained_toy["data"] / "dev.jsonl").read_text().splitlines()[0])["id"])


def test_without_ray_the_engine_names_the_extra(trained_toy, tmp_path, without_module):
    without_module("ray")
    with pytest.raises(LeanformerError, match=r"pip install 'leanformer\[ray\]'"):
        predict_file(PredictConfig(model=str(trained_toy["onnx"]), output=str(tmp_path / "p.jsonl"), split="dev",
                                   engine="ray", show_progress=False))
    assert not (tmp_path / "p.jsonl").exists()


def test_ray_batches_as_the_local_runtime_so_int8_logits_are_bit_identical(trained_toy, tmp_path, local_ray):
    # an int8 model's activation scales come from the whole batch: equal answers need equal batches
    int8 = str(tmp_path / "int8")
    quantize_model(QuantizeConfig(model=str(trained_toy["onnx"]), output_dir=int8, variant="s8"))
    examples = get_task(TaskConfig(name="generic", data_dir=str(trained_toy["data"]))).examples("dev")
    with MultiInstancePredictor(int8, 2, threads=1, batch_size=7) as local:
        expected = local.logits(examples)
    got = ray_logits(PredictorConfig(model=int8, threads=1, batch_size=7), examples, 2, 7)
    assert np.array_equal(got, expected)
