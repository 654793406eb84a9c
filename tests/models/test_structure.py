"""Width pruning (hidden channels) on every family: exact when nothing is removed, reloadable, composable."""

import copy

import pytest
import torch

from leanformer.models import Manifest, load_for_task, load_model, save_model
from leanformer.models.anatomy import block_parts, hidden_width, residual_parts
from leanformer.models.manifest import Structure
from leanformer.models.structure import apply_structure, compose, keep_hidden

FAMILIES = ("bert", "roberta", "xlm-roberta", "distilbert", "electra", "mpnet")


def _batch(tok):
    return tok(["the cat sat on the mat", "a dog is very good", "bird"], ["it was great", "no", "yes it is"],
               padding=True, return_tensors="pt")


@pytest.mark.parametrize("family", FAMILIES)
def test_keeping_every_channel_reproduces_the_logits_exactly(tiny_model, family):
    torch.manual_seed(0)
    model, tok, _ = load_for_task(tiny_model(family, layers=2), ["a", "b", "c"])
    model.eval()
    width = hidden_width(model)
    kept = keep_hidden(copy.deepcopy(model), list(range(width)))
    enc = _batch(tok)
    with torch.no_grad():
        assert torch.equal(model(**enc).logits, kept(**enc).logits)
    # every module on the residual stream was rebuilt, and fewer channels do change the answers
    narrow = keep_hidden(copy.deepcopy(model), list(range(0, width, 2)))
    parts = residual_parts(narrow)
    assert hidden_width(narrow) == width // 2
    assert all(t.embedding_dim == width // 2 for t in parts.tables)
    assert all(n.normalized_shape == (width // 2,) for n in parts.norms)
    assert all(w.out_features == width // 2 for w in parts.writers)
    with torch.no_grad():
        assert (model(**enc).logits - narrow(**enc).logits).abs().max().item() > 1e-6


@pytest.mark.parametrize("family", ("bert", "distilbert", "mpnet"))
def test_width_heads_and_neurons_pruned_then_reloaded_from_disk(tiny_model, tmp_path, family):
    torch.manual_seed(0)
    model, tok, _ = load_for_task(tiny_model(family, layers=2), ["a", "b"])
    structure = Structure(heads=[[0, 3], [1, 2, 3]], neurons=[[1, 2, 3, 9], [4, 5, 6, 7]], hidden=[0, 3, 4, 7, 8, 15, 16, 31])
    pruned = apply_structure(copy.deepcopy(model), structure.heads, structure.neurons, structure.hidden).eval()
    save_model(pruned, tok, Manifest(task={"name": "generic"}, label_names=["a", "b"], structure=structure),
               tmp_path / "m")
    again, _, manifest = load_model(tmp_path / "m")
    assert manifest.structure == structure and hidden_width(again) == 8
    enc = _batch(tok)
    with torch.no_grad():
        assert torch.equal(pruned(**enc).logits, again(**enc).logits)


def test_hidden_channels_compose_as_one_list(tiny_model):
    model, tok, _ = load_for_task(tiny_model("bert", layers=1), ["a", "b"])
    model.eval()
    once = keep_hidden(copy.deepcopy(model), list(range(1, 32, 2)))
    twice = keep_hidden(copy.deepcopy(once), [0, 3, 4])
    assert compose(list(range(1, 32, 2)), [4, 0, 3]) == [1, 7, 9]
    direct = keep_hidden(copy.deepcopy(model), [1, 7, 9])
    enc = _batch(tok)
    with torch.no_grad():
        assert torch.equal(twice(**enc).logits, direct(**enc).logits)


def test_dropping_layers_keeps_the_structure_of_the_others():
    s = Structure(heads=[[0], [1], [2]], neurons=None, hidden=[1, 2])
    once = s.keep_layers([2, 0])
    assert once == Structure(heads=[[0], [2]], neurons=None, hidden=[1, 2], layers=[0, 2])
    assert once.keep_layers([1]) == Structure(heads=[[2]], hidden=[1, 2], layers=[2])


def test_bad_channel_lists_are_refused(tiny_model):
    from leanformer.errors import LeanformerError

    model, _, _ = load_for_task(tiny_model("bert", layers=1), ["a", "b"])
    for bad in ([], [0, 0], [32]):
        with pytest.raises(LeanformerError, match="hidden channels to keep"):
            keep_hidden(copy.deepcopy(model), bad)
    assert block_parts(model)[0].query.in_features == 32


@pytest.mark.parametrize("family", FAMILIES)
def test_removing_every_head_or_neuron_removes_the_sublayer_exactly_as_masking_it(tiny_model, tmp_path, family):
    from leanformer.models.anatomy import RemovedSublayer
    from leanformer.prune.masks import StructureMasks

    torch.manual_seed(0)
    model, tok, _ = load_for_task(tiny_model(family, layers=3), ["a", "b"])
    model.eval()
    heads, neurons = [[], [0, 1, 2, 3], [1]], [list(range(48)), [], []]
    hm = [torch.zeros(4).index_fill_(0, torch.tensor(h, dtype=torch.long), 1.0) for h in heads]
    nm = [torch.zeros(48).index_fill_(0, torch.tensor(n, dtype=torch.long), 1.0) for n in neurons]
    enc = _batch(tok)
    with torch.no_grad(), StructureMasks(model, hm, nm):
        masked = model(**enc).logits
    removed = apply_structure(copy.deepcopy(model), heads, neurons)
    parts = block_parts(removed)
    assert [p.num_heads for p in parts] == [0, 4, 1] and [p.num_neurons for p in parts] == [48, 0, 0]
    assert sum(isinstance(m, RemovedSublayer) for m in removed.modules()) == 3
    with torch.no_grad():
        assert (masked - removed(**enc).logits).abs().max().item() < 1e-5
    save_model(removed, tok, Manifest(task={"name": "generic"}, label_names=["a", "b"],
                                      structure=Structure(heads=heads, neurons=neurons)), tmp_path / "m")
    again = load_model(tmp_path / "m")[0]
    with torch.no_grad():
        assert torch.equal(again(**enc).logits, removed(**enc).logits)
