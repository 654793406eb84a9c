"""Removing a component through the analysis's masks equals removing it physically."""

import copy

import pytest
import torch

from leanformer.approx.components import Component, components, cost, masks, removal
from leanformer.models import load_for_task
from leanformer.models.structure import apply_structure


@pytest.mark.parametrize("family", ["bert", "distilbert", "mpnet"])
def test_masked_removal_equals_physical_removal_for_every_kind(tiny_model, family):
    torch.manual_seed(0)
    model, tok, _ = load_for_task(tiny_model(family, layers=2), ["a", "b"])
    model.eval()
    enc = tok(["the cat sat on the mat", "a dog is very good"], padding=True, return_tensors="pt")
    found = components(model, group_size=16)
    assert len(found) == 2 * (1 + 4 + 1 + 3)  # per layer: attention, 4 heads, FFN, 48 / 16 groups
    for removed in ({Component(0, "attention")}, {Component(1, "ffn")}, {Component(0, "head", 2)},
                    {Component(1, "group", 1), Component(0, "head", 0), Component(1, "attention")}):
        with torch.no_grad(), masks(model, removed, 16):
            masked = model(**enc).logits
        physical = apply_structure(copy.deepcopy(model), *removal(model, removed, 16))
        with torch.no_grad():
            assert (masked - physical(**enc).logits).abs().max().item() < 1e-5, removed


def test_costs_add_up(tiny_model):
    model, _, _ = load_for_task(tiny_model("bert", layers=1), ["a", "b"])
    heads = sum(cost(model, Component(0, "head", h), 16)["parameters"] for h in range(4))
    assert heads == cost(model, Component(0, "attention"), 16)["parameters"]
    groups = sum(cost(model, Component(0, "group", g), 16)["parameters"] for g in range(3))
    assert groups == cost(model, Component(0, "ffn"), 16)["parameters"] == 48 * (2 * 32 + 1)
