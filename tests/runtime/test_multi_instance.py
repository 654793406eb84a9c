import json
import os
import signal
import shutil

import numpy as np
import pytest

from leanformer.errors import LeanformerError
from leanformer.runtime import Predictor
from leanformer.runtime.multi_instance import MultiInstancePredictor, core_groups
from leanformer.runtime.tune import TuneConfig, settings, tune_instances
from leanformer.tasks import TaskConfig, get_task
from leanformer.utils.cpu import core_cpus, physical_cores


def dev(data):
    return get_task(TaskConfig(name="generic", data_dir=str(data))).examples("dev")


def test_core_groups_are_disjoint_physical_cores():
    n = physical_cores()
    groups = core_groups(n, 1)
    assert sorted(c for g in groups for c in g) == core_cpus()
    with pytest.raises(LeanformerError, match="need .* physical cores; this machine offers"):
        core_groups(n + 1, 1)
    assert settings(2) == [(1, 1), (1, 2), (2, 1)]


def test_results_in_input_order_match_single_instance(trained_toy):
    examples = dev(trained_toy["data"])
    reference = Predictor(trained_toy["onnx"], batch_size=1, threads=1).logits(examples)
    with MultiInstancePredictor(trained_toy["onnx"], instances=physical_cores(), threads=1, batch_size=3) as p:
        got = p.logits(examples)
        labels = [x["label"] for x in p.predict(["the film is great", "a dog is awful"])]
    assert np.abs(got - reference).max() < 1e-5
    assert labels == ["pos", "neg"]


def test_crashed_worker_is_an_error_not_a_hang(trained_toy):
    with MultiInstancePredictor(trained_toy["onnx"], instances=1, threads=1) as p:
        os.kill(p.workers[0].pid, signal.SIGKILL)
        with pytest.raises(LeanformerError, match=r"inference worker 0 \(pid \d+\) died with exit code -9"):
            p.logits(dev(trained_toy["data"]))


def test_worker_that_cannot_start(trained_toy, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(trained_toy["onnx"], broken)
    (broken / "model.onnx").write_bytes(b"not an onnx graph")
    with pytest.raises(LeanformerError, match="could not start.*ONNX Runtime cannot load"):
        MultiInstancePredictor(broken, instances=1, threads=1)


def test_tune_instances_saves_best(trained_toy, tmp_path):
    model = tmp_path / "m"
    shutil.copytree(trained_toy["onnx"], model)
    result = tune_instances(TuneConfig(model=str(model), examples=16, batch_sizes=[1, 4]))
    assert len(result["rows"]) == 2 * len(settings(physical_cores()))
    saved = json.loads((model / "leanformer.json").read_text())["runtime"]["instances"]
    assert saved == result["best"] and saved["examples_per_second"] == max(r["examples_per_second"] for r in result["rows"])
    assert Predictor(model).predict(["the film is great"])[0]["label"] == "pos"
