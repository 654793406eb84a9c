import json
from pathlib import Path

import onnx
import pytest

from leanformer.errors import LeanformerError
from leanformer.export import ExportConfig, export_model
from leanformer.models import Manifest, load_for_task, save_model
from leanformer.models.manifest import Structure
from leanformer.models.structure import apply_structure
from leanformer.runtime.onnx_model import layer_norm_apart
from tests.conftest import FAMILIES

FIXTURES = Path(__file__).parents[1] / "fixtures" / "superglue"


def leanformer_model(tiny_model, tmp_path, family, prune=False, task=None, multiple_choice=False, hidden=None):
    model, tok, _ = load_for_task(tiny_model(family, layers=2, hidden=32, heads=4), ["a", "b"], multiple_choice)
    structure = None
    if prune:
        structure = Structure(heads=[[0, 3], [1, 2]], neurons=[list(range(0, 48, 3))] * 2, hidden=hidden)
        apply_structure(model, structure.heads, structure.neurons, structure.hidden)
    manifest = Manifest(task=task or {"name": "generic"}, label_names=["a", "b"], multiple_choice=multiple_choice,
                        structure=structure)
    return save_model(model, tok, manifest, tmp_path / f"{family}-model")


@pytest.fixture(params=[True, False], ids=["skip-ln-fused", "skip-ln-apart"])
def skip_ln_faster(request, monkeypatch):
    """Whether this CPU's fused skip-LayerNorm measured faster (both outcomes, whatever the test machine's)."""
    monkeypatch.setattr("leanformer.export.exporter.skip_layer_norm_timings",
                        lambda hidden: {"fused_us": 1.0, "unfused_us": 2.0, "fuse": request.param})
    return request.param


@pytest.mark.parametrize("family", FAMILIES)
def test_parity_and_fusions_per_family(tiny_model, tmp_path, family, skip_ln_faster):
    src = leanformer_model(tiny_model, tmp_path, family)
    result = export_model(ExportConfig(model=str(src), output_dir=str(tmp_path / "onnx")))
    assert result["parity_max_abs_diff"] < 1e-4
    fusions = result["fusions"]
    if skip_ln_faster:
        assert fusions.get("SkipLayerNormalization", 0) >= 2
    else:  # the residual Add and LayerNormalization stay apart; attention still fuses
        assert "SkipLayerNormalization" not in fusions and fusions["LayerNormalization"] >= 4
    # sessions learn from the manifest whether to keep ONNX Runtime from fusing it back
    assert layer_norm_apart(Manifest.read(tmp_path / "onnx")) is not skip_ln_faster
    if family == "mpnet":
        assert "Attention" not in fusions and "relative-position bias" in result["note"]
    else:
        assert fusions["Attention"] == 2 and result["note"] is None
    manifest = json.loads((tmp_path / "onnx" / "leanformer.json").read_text())
    assert manifest["onnx"]["file"] == "model.onnx" and manifest["lineage"][-1]["step"] == "export"
    graph = onnx.load(str(tmp_path / "onnx" / "model.onnx")).graph
    dims = [d.dim_param for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "sequence"]  # dynamic batch and sequence axes


@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert"])
@pytest.mark.parametrize("hidden", [None, list(range(0, 32, 2))])
def test_pruned_model_exports_with_fused_attention(tiny_model, tmp_path, family, hidden):
    src = leanformer_model(tiny_model, tmp_path, family, prune=True, hidden=hidden)
    result = export_model(ExportConfig(model=str(src), output_dir=str(tmp_path / "onnx")))
    assert result["parity_max_abs_diff"] < 1e-4
    assert result["fusions"]["Attention"] == 2  # 2 heads x 8 = 16 wide, hidden 32 (or 16 kept channels)


def test_mpnet_with_heads_pruned_per_layer_and_narrower_exports(tiny_model, tmp_path):
    src = leanformer_model(tiny_model, tmp_path, "mpnet", prune=True, hidden=list(range(1, 32, 2)))
    result = export_model(ExportConfig(model=str(src), output_dir=str(tmp_path / "onnx")))
    assert result["parity_max_abs_diff"] < 1e-4


def test_multiple_choice_export(tiny_model, tmp_path):
    src = leanformer_model(tiny_model, tmp_path, "bert", multiple_choice=True,
                           task={"name": "copa", "data_dir": str(FIXTURES / "COPA")})
    result = export_model(ExportConfig(model=str(src), output_dir=str(tmp_path / "onnx")))
    assert result["parity_max_abs_diff"] < 1e-4 and "multiple-choice" in result["note"]


def test_parity_failure_is_loud_and_leaves_nothing(tiny_model, tmp_path):
    src = leanformer_model(tiny_model, tmp_path, "bert")
    with pytest.raises(LeanformerError, match="does not match PyTorch"):
        export_model(ExportConfig(model=str(src), output_dir=str(tmp_path / "onnx"), tolerance=0.0))
    assert not (tmp_path / "onnx").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".onnx")]


@pytest.mark.parametrize("family", ["bert", "distilbert", "mpnet"])
def test_removed_sublayers_leave_no_nodes_and_keep_parity(tiny_model, tmp_path, family):
    model, tok, _ = load_for_task(tiny_model(family, layers=2, hidden=32, heads=4), ["a", "b"])
    full = save_model(model, tok, Manifest(task={"name": "generic"}, label_names=["a", "b"]), tmp_path / "full")
    structure = Structure(heads=[[], [0, 1, 2, 3]], neurons=[list(range(48)), []])
    apply_structure(model, structure.heads, structure.neurons)
    cut = save_model(model, tok, Manifest(task={"name": "generic"}, label_names=["a", "b"], structure=structure),
                     tmp_path / "cut")
    counts = {}
    for name, src in (("full", full), ("cut", cut)):
        result = export_model(ExportConfig(model=str(src), output_dir=str(tmp_path / f"{name}-onnx"), optimize=False))
        assert result["parity_max_abs_diff"] < 1e-4
        graph = onnx.load(str(tmp_path / f"{name}-onnx" / "model.onnx")).graph
        counts[name] = sum(n.op_type in ("MatMul", "Gemm") for n in graph.node)
    # one attention (q, k, v, o, two score products) and one FFN (two) fewer
    assert counts["full"] - counts["cut"] == 8
    fused = export_model(ExportConfig(model=str(cut), output_dir=str(tmp_path / "fused")))
    assert fused["parity_max_abs_diff"] < 1e-4
