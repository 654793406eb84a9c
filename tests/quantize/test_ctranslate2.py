"""The CTranslate2 peer: same logits as PyTorch in float32, int8 close, a clear error for what it cannot run."""

import numpy as np
import pytest

from leanformer.errors import LeanformerError
from leanformer.models import Manifest
from leanformer.quantize.ctranslate2 import to_ctranslate2
from leanformer.runtime.predictor import Predictor
from tests.conftest import make_tiny_model

TEXTS = [("the film is very good", "it is"), ("a dog is awful", "no"), ("this book is fine", "yes it is"), ("the cat", "bad")]


def test_float32_matches_pytorch_and_int8_agrees(trained_toy, tmp_path):
    torch_dir = str(trained_toy["torch"])
    reference = Predictor(torch_dir).logits(TEXTS)
    to_ctranslate2(torch_dir, str(tmp_path / "fp32"), quantization=None)
    np.testing.assert_allclose(Predictor(str(tmp_path / "fp32"), batch_size=3).logits(TEXTS), reference, atol=1e-4)
    to_ctranslate2(torch_dir, str(tmp_path / "int8"))
    manifest = Manifest.read(tmp_path / "int8")
    assert manifest.onnx.format == "ctranslate2" and manifest.onnx.precision == "int8"
    assert (Predictor(str(tmp_path / "int8")).logits(TEXTS).argmax(-1) == reference.argmax(-1)).mean() >= 0.75


def test_what_ctranslate2_cannot_run_is_refused_before_writing(tmp_path):
    from leanformer.models import load_for_task, save_model
    from leanformer.models.manifest import Manifest as M

    model, tok, _ = load_for_task(make_tiny_model(tmp_path / "base", "mpnet"), ["a", "b"])
    save_model(model, tok, M(task={"name": "generic"}, label_names=["a", "b"]), tmp_path / "mpnet")
    with pytest.raises(LeanformerError, match="BERT-family.*this is mpnet"):
        to_ctranslate2(str(tmp_path / "mpnet"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_without_ctranslate2_the_peer_names_the_extra(trained_toy, tmp_path, without_module):
    without_module("ctranslate2")
    with pytest.raises(LeanformerError, match=r"pip install 'leanformer\[ctranslate2\]'"):
        to_ctranslate2(str(trained_toy["torch"]), str(tmp_path / "out"))
