"""Replayed layer outputs give the passes a full model would give, without running the replayed layers."""

import pytest
import torch

from leanformer.approx.components import Component, by_layer, masks
from leanformer.models.replay import PrefixReplay
from leanformer.models import load_for_task
from leanformer.models.anatomy import layers
from tests.conftest import FAMILIES


@pytest.mark.parametrize("family", FAMILIES)
def test_replayed_passes_equal_full_passes_and_skip_the_layers_before(tiny_model, family):
    torch.manual_seed(0)
    model, tok, _ = load_for_task(tiny_model(family, layers=3), ["a", "b"])
    model.eval()
    batches = [tok(["the cat sat on the mat", "a dog"], ["it is good", "no"], padding=True, return_tensors="pt"),
               tok(["this film is very good and the book is not"], return_tensors="pt")]
    replay, blocks = PrefixReplay(model), list(layers(model))
    ran = []
    for i, block in enumerate(blocks):
        block.register_forward_hook(lambda *_a, i=i: ran.append(i))

    def run(removed, keep=range(3), only=False):
        ran.clear()
        with torch.no_grad(), masks(model, removed, 16), replay.passes(by_layer(removed, 3), keep, only):
            return [model(**b).logits for b in batches]

    clean = run(set())  # computes every layer and keeps them all
    assert ran == [0, 1, 2] * len(batches)
    run({Component(1, "head", 1)}, keep=range(1))  # a trial in layer 1 replays layer 0
    assert ran == [1, 2] * len(batches)
    removed = {Component(2, "group", 0), Component(2, "head", 3)}
    replayed = run(removed, keep=range(2))  # the rejected trial above did not replace layer 1's clean outputs
    assert ran == [2] * len(batches)  # layers 0 and 1 did not run
    replay.forget()
    full = run(removed)
    assert ran == [0, 1, 2] * len(batches)
    for r, f, c in zip(replayed, full, clean):
        torch.testing.assert_close(r, f, rtol=0, atol=0)
        assert not torch.allclose(f, c)  # the removal does change the logits
    accepted = {Component(0, "head", 0)}  # a removal kept in layer 0: layers 0 and 1 compute anew, once
    for expected in ([0, 1, 2], [2]):
        run(accepted | {Component(2, "head", 1)}, keep=range(2))
        assert ran == expected * len(batches)
    run(set(), keep=(), only=True)
    assert replay.kept == {}
    assert list(layers(model)) == blocks  # the real layers are back


def test_analysis_and_greedy_loop_are_the_same_with_and_without_replay(trained_toy, tmp_path, monkeypatch):
    import contextlib
    import json

    from leanformer.approx import ApproximateConfig, approximate

    def run(out):
        result = approximate(ApproximateConfig(model=str(trained_toy["torch"]), output_dir=str(out), examples=64,
                                               group_size=16, batch_size=16, goal="smaller", budget=0.05, bf16=False,
                                               threads=1, show_progress=False))
        rows = json.loads((out.parent / f"{out.name}-significance" / "significance.json").read_text())["rows"]
        return {r["component"]: r["loss"] for r in rows}, result

    replayed, kept = run(tmp_path / "replayed")
    monkeypatch.setattr(PrefixReplay, "passes", lambda self, keys, keep=(), only=False: contextlib.nullcontext())
    full, reference = run(tmp_path / "full")
    assert full == pytest.approx(replayed, abs=1e-6)
    assert kept["removed"] == reference["removed"] and kept["removed"]  # the same components removed
