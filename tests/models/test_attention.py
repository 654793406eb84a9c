"""Approximate attention: exact when k covers every key; otherwise only the chosen keys are attended."""

import copy

import pytest
import torch

from leanformer.errors import LeanformerError
from leanformer.export import ExportConfig, export_model
from leanformer.models import Manifest, load_for_task, load_model, save_model
from leanformer.models.attention import _top_k, apply_approximate_attention, attention_macs
from leanformer.models.manifest import Structure


def _batch(tok):
    return tok(["the cat sat on the mat and it was very good", "a dog", "bird is a bird"], padding=True,
               return_tensors="pt")


@pytest.mark.parametrize("method", ["sign_match", "hard"])
@pytest.mark.parametrize("family", ["bert", "distilbert", "mpnet"])
def test_k_at_least_the_length_is_exact_attention(tiny_model, family, method):
    torch.manual_seed(0)
    model, tok, _ = load_for_task(tiny_model(family, layers=2), ["a", "b"])
    model.eval()
    enc = _batch(tok)
    length = enc["input_ids"].shape[1]
    with torch.no_grad():
        exact = model(**enc).logits
        wide = apply_approximate_attention(copy.deepcopy(model), {"0": {"method": method, "k": length},
                                                                  "1": {"method": method, "k": 500}})
        torch.testing.assert_close(wide(**enc).logits, exact, atol=1e-5, rtol=1e-5)
        narrow = apply_approximate_attention(copy.deepcopy(model), {"1": {"method": method, "k": 2}})
        assert (narrow(**enc).logits - exact).abs().max().item() > 1e-5


def test_sign_matching_picks_the_keys_that_agree_in_sign():
    query = torch.tensor([[[[1.0, -1.0, 1.0]]]])
    keys = torch.tensor([[[[1.0, -2.0, 3.0], [-1.0, 1.0, -1.0], [5.0, -1.0, -1.0]]]])
    similarity = torch.matmul(torch.sign(query), torch.sign(keys).transpose(2, 3))
    assert similarity.tolist() == [[[[3.0, -3.0, 1.0]]]]
    assert _top_k(similarity, 2).tolist() == [[[[True, False, True]]]]
    assert _top_k(similarity, 5).all()  # fewer keys than k: all of them
    assert attention_macs(128, 64, 12, 16) * 8 == attention_macs(128, 64, 12)


@pytest.mark.parametrize("family", ["bert", "mpnet"])
def test_approximate_attention_is_saved_reloaded_and_exported(tiny_model, tmp_path, family):
    torch.manual_seed(0)
    model, tok, _ = load_for_task(tiny_model(family, layers=2), ["a", "b"])
    structure = Structure(attention={"1": {"method": "sign_match", "k": 3}})
    apply_approximate_attention(model, structure.attention)
    save_model(model, tok, Manifest(task={"name": "generic"}, label_names=["a", "b"], structure=structure),
               tmp_path / "m")
    again, _, _ = load_model(tmp_path / "m")
    enc = _batch(tok)
    with torch.no_grad():
        assert torch.equal(model.eval()(**enc).logits, again(**enc).logits)
    result = export_model(ExportConfig(model=str(tmp_path / "m"), output_dir=str(tmp_path / "onnx")))
    assert result["parity_max_abs_diff"] < 1e-4 and "approximate attention" in result["note"]


def test_bad_specs_are_refused(tiny_model):
    bert, _, _ = load_for_task(tiny_model("bert", layers=1), ["a", "b"])
    with pytest.raises(LeanformerError, match="needs a method"):
        apply_approximate_attention(bert, {"0": {"method": "fuzzy", "k": 2}})
    with pytest.raises(LeanformerError, match="layer 3 has no attention"):
        apply_approximate_attention(bert, {"3": {"method": "hard", "k": 2}})
