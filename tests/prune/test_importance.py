"""Hidden-channel and layer importance: a dead channel scores lowest, a layer's score is its measured loss rise."""

import copy

import pytest
import torch
import torch.nn.functional as F

from leanformer.models import load_for_task
from leanformer.models.anatomy import keep_layers, residual_parts
from leanformer.prune.importance import hidden_importance, layer_importance


def _batches(tok):
    enc = tok(["the cat sat on the mat", "a dog is very good", "bird", "it was great"], padding=True,
              return_tensors="pt")
    return [(dict(enc), torch.tensor([0, 1, 1, 0]))]


@pytest.mark.parametrize("method", ["activation", "gradient"])
@pytest.mark.parametrize("family", ["bert", "mpnet"])
def test_a_channel_every_layernorm_silences_scores_lowest(tiny_model, method, family):
    torch.manual_seed(0)
    model, tok, _ = load_for_task(tiny_model(family, layers=2), ["a", "b"])
    with torch.no_grad():
        for norm in residual_parts(model).norms:
            norm.weight[5] = 0.0
            norm.bias[5] = 0.0
    scores = hidden_importance(model, _batches(tok), 4, method, show_progress=False)
    assert scores.shape == (32,) and scores.argmin().item() == 5 and scores[5].item() == 0.0
    assert (scores > 0).sum().item() == 31


def test_layer_score_is_the_loss_rise_when_that_layer_is_skipped(tiny_model):
    torch.manual_seed(0)
    model, tok, _ = load_for_task(tiny_model("bert", layers=3), ["a", "b"])
    batches = _batches(tok)
    rises = layer_importance(model, batches, show_progress=False)
    inputs, labels = batches[0]
    with torch.no_grad():
        full = F.cross_entropy(model(**inputs).logits, labels).item()
        without_1 = F.cross_entropy(keep_layers(copy.deepcopy(model), [0, 2])(**inputs).logits, labels).item()
    assert rises.shape == (3,) and rises[1].item() == pytest.approx(without_1 - full, abs=1e-5)
    assert len(model.bert.encoder.layer) == 3  # the model is left whole
