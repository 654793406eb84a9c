"""Hidden-channel and layer importance: a dead channel scores lowest, a layer's score is its measured loss rise,
and greedy selection measures again after every drop."""

import copy

import pytest
import torch
import torch.nn.functional as F

from leanformer.models import load_for_task
from leanformer.models.anatomy import keep_layers, layers, residual_parts
from leanformer.prune.importance import greedy_layers, hidden_importance, layer_importance


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


@pytest.mark.parametrize("family", ["bert", "distilbert", "mpnet"])
def test_layer_score_is_the_loss_rise_when_that_layer_is_skipped(tiny_model, family):
    torch.manual_seed(0)
    model, tok, _ = load_for_task(tiny_model(family, layers=3), ["a", "b"])
    # two batches of other shapes: the replayed passes must follow the batch order
    batches = _batches(tok) + [(dict(tok(["not a good film", "yes"], padding=True, return_tensors="pt")),
                                torch.tensor([1, 0]))]
    rises = layer_importance(model, batches, show_progress=False)

    def mean_loss(m):
        with torch.no_grad():
            return sum(F.cross_entropy(m(**x).logits, y, reduction="sum").item() for x, y in batches) / 6

    full = mean_loss(model)
    for skipped, kept in ((1, [0, 2]), (2, [0, 1])):  # skipping layer 2 replays layer 0's outputs
        assert rises[skipped].item() == pytest.approx(mean_loss(keep_layers(copy.deepcopy(model), kept)) - full,
                                                      abs=1e-5)
    assert rises.shape == (3,) and len(layers(model)) == 3  # the model is left whole


@pytest.mark.parametrize("family", ["bert", "mpnet"])
def test_greedy_layers_drop_the_cheapest_layer_then_measure_again(tiny_model, family):
    torch.manual_seed(0)
    model, tok, _ = load_for_task(tiny_model(family, layers=4), ["a", "b"])
    batches = _batches(tok)

    def mean_loss(kept):
        with torch.no_grad():
            m = keep_layers(copy.deepcopy(model), kept)
            return sum(F.cross_entropy(m(**x).logits, y, reduction="sum").item() for x, y in batches) / 4

    kept, rounds = greedy_layers(model, batches, 2, show_progress=False)
    expected = [0, 1, 2, 3]  # by brute force: each round, the layer whose skipping leaves the lowest loss goes
    for measured in rounds:
        base = mean_loss(expected)
        losses = [mean_loss([j for j in expected if j != i]) for i in expected]
        assert measured == pytest.approx([loss - base for loss in losses], abs=1e-5)
        expected.pop(losses.index(min(losses)))
    assert kept == expected and len(rounds) == 2
    assert rounds[0] == pytest.approx(layer_importance(model, batches, show_progress=False).tolist(), abs=1e-6)
    assert len(layers(model)) == 4  # the model is left whole
