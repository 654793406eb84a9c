import dataclasses

import numpy as np
import pytest

from leanformer.errors import LeanformerError
from leanformer.runtime import Predictor
from leanformer.tasks import TaskConfig, get_task


def test_onnx_and_torch_agree_and_order_is_kept(trained_toy):
    examples = get_task(TaskConfig(name="generic", data_dir=str(trained_toy["data"]))).examples("dev")
    torch_logits = Predictor(trained_toy["torch"], batch_size=1, threads=1).logits(examples)
    for batch_size, sort in [(1, False), (7, True), (7, False), (64, True)]:
        onnx_logits = Predictor(trained_toy["onnx"], batch_size=batch_size, sort_by_length=sort, threads=1).logits(examples)
        assert np.abs(onnx_logits - torch_logits).max() < 1e-4, (batch_size, sort)


def test_raw_texts_and_labels(trained_toy):
    p = Predictor(trained_toy["onnx"], batch_size=4)
    out = p.predict(["the film is very great", "a dog is awful", "this book is fine"])
    assert [o["label"] for o in out] == ["pos", "neg", "pos"]
    assert all(abs(sum(o["probabilities"]) - 1) < 1e-5 for o in out)
    with pytest.raises(LeanformerError, match="input 0: expected a text"):
        p.predict([42])


def test_settings_are_fixed_at_construction(trained_toy):
    from leanformer.runtime import PredictorConfig

    config = PredictorConfig(str(trained_toy["onnx"]), batch_size=4, threads=1)
    p = Predictor(config)
    assert p.config == config and Predictor(trained_toy["onnx"], batch_size=4, threads=1).config == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.config.batch_size = 8
    examples = get_task(TaskConfig(name="generic", data_dir=str(trained_toy["data"]))).examples("dev")
    assert np.allclose(p.logits(examples, batch_size=16), p.logits(examples), atol=1e-5)
    assert p.config.batch_size == 4
