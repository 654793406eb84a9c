"""Choosing the runtime by measurement (``quantize --backend auto``): ONNX Runtime int8 and OpenVINO int8
are both built, timed at the batch size the user will run, checked against the fp32 model's predictions,
and the fastest that agrees well enough is kept, with every timing recorded in its manifest."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from leanformer.errors import LeanformerError
from leanformer.models import Manifest
from leanformer.runtime.onnx_model import read_onnx_model
from leanformer.runtime.predictor import Predictor
from leanformer.tasks import task_for
from leanformer.utils.paths import check_output, scratch_dir
from leanformer.utils.progress import info


def _measure(model_dir: str, examples: list, reference, batch_size: int, threads: int | None) -> dict:
    """Queries per second at ``batch_size`` (median of 3 passes after a warm-up) and agreement with ``reference``."""
    predictor = Predictor(model_dir, threads=threads, batch_size=batch_size)
    features = predictor.inputs.features(examples)
    predicted = predictor.run_features(features).argmax(-1)
    passes = []
    for _ in range(3):
        start = time.perf_counter()
        predictor.run_features(features)
        passes.append(time.perf_counter() - start)
    return {"queries_per_second": round(len(features) / sorted(passes)[1], 2),
            "agreement_with_fp32": float((predicted == reference).mean())}


def choose_backend(cfg) -> dict:
    """Build every available int8 backend for ``cfg`` (a QuantizeConfig), keep the fastest that agrees."""
    from leanformer.quantize.dynamic import quantize_model
    from leanformer.quantize.openvino import OpenVinoConfig, to_openvino

    check_output(cfg.output_dir, [cfg.model, cfg.data_dir], cfg.overwrite)
    _, manifest = read_onnx_model(cfg.model)
    examples = task_for(manifest.task, cfg.data_dir).examples("dev")[: cfg.timing_examples]
    if not examples:
        raise LeanformerError("choosing a backend needs dev examples to time; give --data-dir")
    reference = Predictor(cfg.model, threads=cfg.threads).logits(examples).argmax(-1)
    with scratch_dir(cfg.output_dir) as scratch:
        built = {"onnxruntime": Path(scratch) / "onnxruntime"}
        quantize_model(dataclasses.replace(cfg, backend="onnxruntime", output_dir=str(built["onnxruntime"]),
                                           overwrite=False))
        missing = None
        try:
            to_openvino(OpenVinoConfig(model=cfg.model, output_dir=str(Path(scratch) / "openvino"),
                                       max_length=cfg.max_length, data_dir=cfg.data_dir))
            built["openvino"] = Path(scratch) / "openvino"
        except LeanformerError as e:  # the extra is not installed: say so, choose among the rest
            missing = str(e)
        measured = {name: _measure(str(path), examples, reference, cfg.timing_batch_size, cfg.threads)
                    for name, path in built.items()}
        good = [n for n, m in measured.items() if m["agreement_with_fp32"] >= cfg.min_agreement] or \
            [max(measured, key=lambda n: measured[n]["agreement_with_fp32"])]
        best = max(good, key=lambda n: measured[n]["queries_per_second"])
        for name, m in measured.items():
            info(f"backend {name}: {m['queries_per_second']} queries/s at batch size {cfg.timing_batch_size}, "
                 f"agreement with fp32 {100 * m['agreement_with_fp32']:.1f}%")
        chosen = Manifest.read(built[best]).with_step(
            "choose backend", backend=best, batch_size=cfg.timing_batch_size, examples=len(examples),
            measured=measured, min_agreement=cfg.min_agreement, not_measured=missing)
        chosen.write(built[best])
        os.replace(built[best], cfg.output_dir)
    return {"output_dir": cfg.output_dir, "backend": best, "measured": measured, "not_measured": missing}
