"""Exporting a leanformer model to ONNX (``leanformer export``), with parity checked against PyTorch."""

from __future__ import annotations

import copy
import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from leanformer.data.features import collate, encode
from leanformer.errors import LeanformerError
from leanformer.export.graph import optimize_graph
from leanformer.models import load_model
from leanformer.models.manifest import OnnxGraph
from leanformer.models.anatomy import block_parts, hidden_width
from leanformer.runtime.kernels import skip_layer_norm_timings
from leanformer.runtime.session import make_session, session_inputs
from leanformer.tasks import Example, task_for
from leanformer.utils.config import DATA_DIR_HELP, MAX_LENGTH_HELP, OVERWRITE_HELP, option
from leanformer.utils.paths import atomic_dir, check_output
from leanformer.utils.progress import info

ONNX_FILE = "model.onnx"
#: families whose attention ONNX Runtime's optimizer does not fuse, and why
UNFUSED_ATTENTION = {"mpnet": "MPNet adds a relative-position bias to the scores, which the fusion does not match"}


@dataclass
class ExportConfig:
    model: str = option(help="Leanformer model directory (PyTorch).", flags=("--model", "-m"))
    output_dir: str = option(help="Directory for the ONNX model.", flags=("--output", "-o"))
    opset: int = option(17, "ONNX opset.")
    optimize: bool = option(True, "Fuse with ONNX Runtime's transformer optimizer.", flags=("--optimize/--no-optimize",))
    parity_examples: int = option(32, "Dev examples used for the parity check with PyTorch.")
    tolerance: float = option(1e-3, "Fail if ONNX and PyTorch logits differ by more than this.")
    max_length: int | None = option(None, MAX_LENGTH_HELP)
    data_dir: str | None = option(None, DATA_DIR_HELP)
    #: "leanformer" (graph prepared so attention fuses) or "standard" (plain export and ONNX Runtime's
    #: optimizer as-is: what a user gets from the stock tools, kept as the benchmark's peer)
    recipe: str = option("leanformer", "leanformer or standard (the stock tools' graph, the bench's peer).", cli=False)
    overwrite: bool = option(False, OVERWRITE_HELP, flags=("--overwrite",))


class _ClassicMask(torch.nn.Module):
    """Feeds the model a ready 4D additive mask built the classic BERT way.

    Transformers v5 passes a 4D mask through untouched, and this form, ``(1 - mask) * -10000``, is
    the one ONNX Runtime's attention fusion recognises.
    """

    def __init__(self, model: torch.nn.Module, input_names: list[str]):
        super().__init__()
        self.model, self.input_names = model, input_names

    def forward(self, *inputs):
        kwargs = dict(zip(self.input_names, inputs))
        mask = kwargs.pop("attention_mask")
        additive = (1.0 - mask.unsqueeze(1).unsqueeze(2).to(torch.float32)) * -10000.0
        return self.model(attention_mask=additive, **kwargs).logits


def _sample(model, tokenizer, manifest, cfg: ExportConfig) -> list[list[dict]]:
    """Real dev inputs for tracing and parity when the task's data is at hand, else fixed sentences."""
    try:
        examples = task_for(manifest.task, cfg.data_dir).examples("dev")[: cfg.parity_examples]
    except LeanformerError as e:
        info(f"export: no dev data for the parity check ({e}); using fixed sentences instead (pass --data-dir)")
        texts = ["The quick brown fox jumps over the lazy dog.", "A short one.", "Is this supported by the evidence?"]
        n_pairs = 2 if manifest.multiple_choice else 1
        examples = [Example(str(i), tuple((t, texts[(i + 1) % 3]) for _ in range(n_pairs))) for i, t in enumerate(texts)]
    return encode(examples, tokenizer, manifest.input_length(cfg.max_length))


def _heads_and_width(model) -> tuple[int, int]:
    """The attention shape the optimizer fuses; (0, 0) lets it read each layer's own when layers differ."""
    shapes = {(p.num_heads, p.num_heads * p.head_size) for p in block_parts(model) if p.attention is not None}
    return shapes.pop() if len(shapes) == 1 else (0, 0)


def parity(session, model, features, pad_id: int, multiple_choice: bool) -> float:
    """Largest |logit difference| between ONNX Runtime and PyTorch, batched (with padding) and one by one."""
    worst = 0.0
    batches = [features] + [[f] for f in features[:8]]
    with torch.inference_mode():
        for batch in batches:
            inputs = collate(batch, pad_id, multiple_choice)
            reference = model(**inputs).logits.float().numpy()
            got = session.run(None, session_inputs(session, {k: v.numpy() for k, v in inputs.items()}))[0]
            worst = max(worst, float(np.abs(got - reference).max()))
    return worst


def export_model(cfg: ExportConfig) -> dict:
    """Write ``model.onnx`` (dynamic batch and sequence axes), tokenizer, config and manifest to ``output_dir``."""
    check_output(cfg.output_dir, [cfg.model, cfg.data_dir], cfg.overwrite)
    model, tokenizer, manifest = load_model(cfg.model)
    model.eval()
    features = _sample(model, tokenizer, manifest, cfg)
    example = collate(features[:2], tokenizer.pad_token_id, manifest.multiple_choice)
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in example]
    axes = ({"batch": 0, "choice": 1, "sequence": 2} if manifest.multiple_choice else {"batch": 0, "sequence": 1})
    dynamic = {n: {i: a for a, i in axes.items()} for n in names} | {"logits": {0: "batch"}}
    if cfg.recipe not in ("leanformer", "standard"):
        raise LeanformerError(f"unknown export recipe '{cfg.recipe}'; expected leanformer or standard")
    standard = cfg.recipe == "standard"
    approximated = manifest.structure is not None and bool(manifest.structure.attention)
    fusable = (not standard and not manifest.multiple_choice and not approximated
               and model.config.model_type not in UNFUSED_ATTENTION)
    traced = copy.deepcopy(model)
    if fusable:
        traced.set_attn_implementation("eager")  # the plain attention graph the optimizer can fuse
        wrapper = _ClassicMask(traced, names)
    else:
        wrapper = _ExportLogits(traced, names)
    with atomic_dir(cfg.output_dir) as tmp:
        raw = tmp / "raw.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, tuple(example[n] for n in names), str(raw), input_names=names,
                              output_names=["logits"], dynamic_axes=dynamic, opset_version=cfg.opset, dynamo=False)
        fusions: dict[str, int] = {}
        kernels, apart = None, False
        if cfg.optimize:
            heads, width = (0, 0) if standard else _heads_and_width(model)  # 0: let the optimizer detect them
            # the stock recipe fuses as the stock optimizer does; leanformer's fuses what is faster here
            kernels = None if standard else {"skip_layer_norm": skip_layer_norm_timings(hidden_width(model))}
            apart = kernels is not None and not kernels["skip_layer_norm"]["fuse"]
            fusions = optimize_graph(raw, tmp / ONNX_FILE, heads, width, prepare=not standard,
                                     skip_layer_norm=not apart)
            raw.unlink()
        else:
            raw.rename(tmp / ONNX_FILE)
        session = make_session(tmp / ONNX_FILE, layer_norm_apart=apart)
        diff = parity(session, model, features, tokenizer.pad_token_id, manifest.multiple_choice)
        if diff > cfg.tolerance:
            raise LeanformerError(f"ONNX export of {cfg.model} does not match PyTorch: max |logit difference| "
                                  f"{diff:.2e} > {cfg.tolerance:.0e}")
        tokenizer.save_pretrained(tmp)
        model.config.save_pretrained(tmp)
        note = None
        if not fusable:
            note = "standard recipe" if standard else "attention not fused: " + (
                "multiple-choice inputs" if manifest.multiple_choice else "approximate attention" if approximated
                else UNFUSED_ATTENTION[model.config.model_type])
        graph = OnnxGraph(file=ONNX_FILE, precision="fp32", inputs=names, fusions=fusions, opset=cfg.opset)
        dataclasses.replace(manifest, onnx=graph).with_step(
            "export", source=str(cfg.model), recipe=cfg.recipe, opset=cfg.opset, fusions=fusions, parity_max_abs_diff=diff,
            parity_examples=len(features), note=note, kernels_measured=kernels).write(tmp)
    info(f"exported {cfg.model} -> {cfg.output_dir}: fusions {fusions or 'none'}; parity max |diff| {diff:.2e}")
    return {"output_dir": cfg.output_dir, "fusions": fusions, "parity_max_abs_diff": diff, "note": note}


class _ExportLogits(torch.nn.Module):
    """Plain export (the model builds its own mask) for graphs the attention fusion cannot handle."""

    def __init__(self, model: torch.nn.Module, input_names: list[str]):
        super().__init__()
        self.model, self.input_names = model, input_names

    def forward(self, *inputs):
        return self.model(**dict(zip(self.input_names, inputs))).logits
