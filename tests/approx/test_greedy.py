"""The greedy loop respects its budget, and its model is physically smaller, exports and reloads."""

import dataclasses
import json

import pytest

from leanformer.approx import AnalyzeConfig, ApproximateConfig, analyze, approximate
from leanformer.approx.components import Component
from leanformer.approx.greedy import acceptance, greedy, order, uniform_peer
from leanformer.errors import LeanformerError
from leanformer.export import ExportConfig, export_model
from leanformer.models import load_model
from leanformer.models.structure import current_structure


class FakeScorer:
    """Each component costs a fixed amount of metric; removing 'bad' ones gains."""

    def __init__(self, effects):
        self.effects, self.calls = effects, 0

    def __call__(self, removed, replay=False, trial=None):
        self.calls += 1
        return {"loss": 0.0, "metric": 0.80 + sum(self.effects[c] for c in removed | ({trial} if trial else set()))}


def test_greedy_never_goes_below_the_budget_and_skips_covered_parts():
    a, h, f, g = Component(0, "attention"), Component(0, "head", 1), Component(1, "ffn"), Component(1, "group", 0)
    scorer = FakeScorer({a: -0.003, h: -0.001, f: -0.002, g: +0.01})
    removed, base, final = greedy(scorer, [a, h, f, g], "faster", 0.005, show_progress=False)
    assert removed == {a, g} and final["metric"] >= base["metric"] * (1 - 0.005)  # f would cross the floor
    removed, _, final = greedy(FakeScorer(scorer.effects), [g, a], "accurate", 0.005, show_progress=False)
    assert removed == {g} and final["metric"] > 0.8


def test_a_loss_budget_refuses_removals_the_metric_does_not_see():
    a, f = Component(0, "attention"), Component(1, "ffn")

    class Lossy(FakeScorer):  # both removals leave the metric where it was; f raises the loss by half
        def __call__(self, removed, replay=False, trial=None):
            every = removed | ({trial} if trial else set())
            return {"loss": 0.4 + (0.2 if f in every else 0.01 * len(every)), "metric": 0.80}

    assert greedy(Lossy({}), [a, f], "faster", 0.005, show_progress=False)[0] == {a, f}
    removed, base, final = greedy(Lossy({}), [a, f], "faster", 0.005, show_progress=False, loss_budget=0.05)
    assert removed == {a} and final["loss"] <= base["loss"] * 1.05
    # the same rule keeps approximate attention, for every goal
    accepts = acceptance({"loss": 0.4, "metric": 0.8}, "accurate", 0.005, 0.05)
    assert accepts({"loss": 0.41, "metric": 0.81}, {"loss": 0.4, "metric": 0.8})
    assert not accepts({"loss": 0.43, "metric": 0.81}, {"loss": 0.4, "metric": 0.8})


def test_a_negative_loss_budget_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(LeanformerError, match="loss budget is a relative loss rise >= 0, got -0.1"):
        approximate(ApproximateConfig(model=str(tmp_path / "m"), output_dir=str(tmp_path / "out"), loss_budget=-0.1))
    assert list(tmp_path.iterdir()) == []


def test_a_killed_greedy_loop_resumes_from_its_trials_without_measuring_them_again(tmp_path):
    a, h, f, g = Component(0, "attention"), Component(0, "head", 1), Component(1, "ffn"), Component(1, "group", 0)
    effects, log = {a: -0.003, h: -0.001, f: -0.002, g: +0.01}, tmp_path / "trials.jsonl"
    straight = greedy(FakeScorer(effects), [a, h, f, g], "faster", 0.005, show_progress=False)

    class Killed(FakeScorer):
        def __call__(self, removed, replay=False, trial=None):
            if self.calls == 3:  # the base pass, then a and f: killed while measuring g
                raise KeyboardInterrupt("killed")
            return super().__call__(removed, replay, trial)

    with pytest.raises(KeyboardInterrupt):
        greedy(Killed(effects), [a, h, f, g], "faster", 0.005, show_progress=False, trials=log)
    with log.open("a") as cut:
        cut.write('{"component": [1, "gr')  # and the kill cut a line short
    scorer = FakeScorer(effects)
    assert greedy(scorer, [a, h, f, g], "faster", 0.005, show_progress=False, trials=log) == straight
    assert scorer.calls == 2  # the base pass and g: a and f came from the log
    # other candidates meet other removal sets: only a measurement of the same removals is taken from the log
    other = greedy(FakeScorer(effects), [f, a, g], "faster", 0.005, show_progress=False)
    assert greedy(FakeScorer(effects), [f, a, g], "faster", 0.005, show_progress=False, trials=log) == other


def test_goals_visit_kinds_in_their_own_order():
    rows = [{"layer": 0, "kind": k, "index": 0, "loss_change": lc, "metric_change": mc}
            for k, lc, mc in (("head", 0.0, 0.0), ("ffn", 0.2, -0.1), ("attention", 0.1, 0.01), ("group", -0.1, 0.02))]
    assert [c.kind for c in order(rows, "faster")] == ["attention", "ffn", "head", "group"]
    assert [c.kind for c in order(rows, "smaller")] == ["ffn", "group", "attention", "head"]
    assert [c.kind for c in order(rows, "accurate")] == ["attention", "group"]


def test_uniform_peer_spreads_the_kept_heads_and_neurons_evenly():
    # a removed attention block counts as 0 heads, a removed FFN as 0 neurons; at least one of each stays
    assert uniform_peer({"heads_per_layer": [0, 4, 4, 3], "ffn_per_layer": [8, 8, 0, 5]}) == {"heads": 3, "ffn": 5}
    assert uniform_peer({"heads_per_layer": [0, 0], "ffn_per_layer": [0, 1]}) == {"heads": 1, "ffn": 1}


def _cfg(cls, trained, out, **kw):
    return cls(model=str(trained), output_dir=str(out), examples=64, group_size=16, batch_size=32, bf16=False,
               threads=1, show_progress=False, **kw)


def test_analyze_writes_the_ranked_table_and_heat_map_and_resumes(trained_toy, tmp_path, monkeypatch):
    result = analyze(_cfg(AnalyzeConfig, trained_toy["torch"], tmp_path / "sig"))
    table = json.loads((tmp_path / "sig" / "significance.json").read_text())
    assert result["components"] == len(table["rows"]) == 2 * (1 + 4 + 1 + 3)
    changes = [r["loss_change"] for r in table["rows"]]
    assert changes == sorted(changes)
    assert (tmp_path / "sig" / "significance.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "sig" / "significance.csv").read_text().startswith("component,layer,kind")
    from leanformer.approx import significance

    calls = []
    original = significance.Scorer.__call__
    monkeypatch.setattr(significance.Scorer, "__call__", lambda self, removed, **kw: calls.append(removed) or original(self, removed, **kw))
    analyze(_cfg(AnalyzeConfig, trained_toy["torch"], tmp_path / "sig"))
    assert calls == [set()]  # only the base pass: every component's row is reused


@pytest.mark.parametrize("goal", ["faster", "smaller"])
def test_approximated_model_is_smaller_within_budget_and_exports(trained_toy, tmp_path, goal):
    result = approximate(_cfg(ApproximateConfig, trained_toy["torch"], tmp_path / goal, goal=goal, budget=0.05))
    assert result["sample_after"]["metric"] >= result["sample_before"]["metric"] * 0.95
    assert result["removed"] and result["parameters"] < result["parameters_before"]
    model, _, manifest = load_model(tmp_path / goal)
    assert result["uniform_peer"] == uniform_peer(current_structure(model))
    assert manifest.lineage[-2]["step"] == "approximate" and manifest.metrics["dev"]["accuracy"] >= 0
    exported = export_model(ExportConfig(model=str(tmp_path / goal), output_dir=str(tmp_path / f"{goal}-onnx")))
    assert exported["parity_max_abs_diff"] < 1e-4
    assert (tmp_path / f"{goal}-significance" / "significance.json").exists()


def test_tolerant_layers_get_approximate_attention_that_survives_reload(trained_toy, tmp_path):
    result = approximate(_cfg(ApproximateConfig, trained_toy["torch"], tmp_path / "att", goal="faster", budget=0.5,
                              kinds=["group"], attention="sign_match", attention_k=2))
    model, _, manifest = load_model(tmp_path / "att")
    chosen = manifest.structure.attention
    assert chosen and all(spec == {"method": "sign_match", "k": 2} for spec in chosen.values())
    assert result["sample_after"]["metric"] >= result["sample_before"]["metric"] * 0.5
    layer = int(next(iter(chosen)))
    from leanformer.models.anatomy import block_parts

    assert block_parts(model)[layer].attention.approximate_attention["k"] == 2


def test_an_analysis_serves_another_goal_and_is_refused_when_measured_otherwise(trained_toy, tmp_path):
    analysis = tmp_path / "sig"
    analyze(_cfg(AnalyzeConfig, trained_toy["torch"], analysis))
    rows = (analysis / "progress.jsonl").read_text().splitlines()
    with pytest.raises(LeanformerError, match=r"examples 64 \(this run: 32\)"):
        analyze(dataclasses.replace(_cfg(AnalyzeConfig, trained_toy["torch"], analysis), examples=32))
    approximate(_cfg(ApproximateConfig, trained_toy["torch"], tmp_path / "acc", goal="accurate",
                     analysis=str(analysis)))
    assert (analysis / "progress.jsonl").read_text().splitlines() == rows  # every row reused, none measured again
    assert not (tmp_path / "acc-significance").exists()
    with pytest.raises(LeanformerError, match="group_size 16 \\(this run: 8\\)"):
        approximate(dataclasses.replace(_cfg(ApproximateConfig, trained_toy["torch"], tmp_path / "f", goal="faster",
                                             analysis=str(analysis)), group_size=8))
    with pytest.raises(LeanformerError, match="not a leanformer analysis folder"):
        approximate(_cfg(ApproximateConfig, trained_toy["torch"], tmp_path / "g", analysis=str(tmp_path)))
