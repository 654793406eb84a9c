import json

import numpy as np
import pytest
import torch

from leanformer.errors import LeanformerError
from leanformer.models import load_model
from leanformer.prune import PruneConfig, prune
from leanformer.utils.device import resolve_device
from tests.conftest import train_toy

CUDA = torch.cuda.is_available()


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if CUDA else "cpu")
    with pytest.raises(LeanformerError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")


@pytest.mark.skipif(CUDA, reason="checks the error on a machine without a GPU")
def test_asking_for_a_missing_gpu_fails_before_anything_is_written(trained_toy, tmp_path):
    with pytest.raises(LeanformerError, match="no CUDA GPU"):
        prune(PruneConfig(model=str(trained_toy["torch"]), output_dir=str(tmp_path / "p"), hidden=16, device="cuda"))
    assert not (tmp_path / "p").exists()


def _cut(teacher, out, device):
    return prune(PruneConfig(model=str(teacher), output_dir=str(out), layers=2, hidden=16, heads=3, epochs=1,
                             batch_size=16, learning_rate=3e-3, bf16=False, show_progress=False, threads=1,
                             importance_examples=64, hidden_weight=1.0, attention_weight=1.0, device=device))


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_the_frontier_path_on_a_gpu_matches_the_cpu(tmp_path, monkeypatch):
    """Importance (layers, heads, channels), pruning and distillation with hidden and attention losses on
    the GPU choose the same structure and train to the same model as on the CPU (fp32)."""
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    teacher, _ = train_toy(tmp_path / "mpnet", layers=3, family="mpnet")
    config = json.loads((teacher / "config.json").read_text())
    # no dropout: the CPU and the GPU draw different random masks
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (teacher / "config.json").write_text(json.dumps(config))
    on = {device: _cut(teacher, tmp_path / device, device) for device in ("cpu", "cuda")}
    assert on["cpu"]["structure"] == on["cuda"]["structure"]
    (cpu, tok, m_cpu), (gpu, _, m_gpu) = load_model(tmp_path / "cpu"), load_model(tmp_path / "cuda")
    assert m_cpu.structure == m_gpu.structure
    enc = tok(["the cat is good", "a dog is very bad"], ["yes", "no"], padding=True, return_tensors="pt")
    with torch.no_grad():
        np.testing.assert_allclose(gpu.eval()(**enc).logits.numpy(), cpu.eval()(**enc).logits.numpy(), atol=1e-3)
