"""OpenVINO models from exported ONNX graphs: fp32 as converted, or int8 by NNCF post-training quantization
calibrated on a seeded sample of the training split; agreement with the fp32 ONNX model is checked and
recorded, as for ONNX Runtime int8."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from leanformer.data.features import collate, encode
from leanformer.errors import LeanformerError
from leanformer.models.loading import load_tokenizer
from leanformer.models import Manifest
from leanformer.runtime.onnx_model import read_onnx_model, write_onnx_model
from leanformer.runtime.openvino_backend import import_openvino
from leanformer.runtime.predictor import Predictor
from leanformer.tasks import task_for
from leanformer.utils.config import DATA_DIR_HELP, MAX_LENGTH_HELP, OVERWRITE_HELP, option
from leanformer.utils.paths import check_output
from leanformer.utils.progress import info, quiet_logging

OV_FILE = "model.xml"


@dataclass(kw_only=True)
class OpenVinoConfig:
    model: str = option(help="Exported fp32 ONNX model directory.", flags=("--model", "-m"))
    output_dir: str = option(help="Directory for the OpenVINO model.", flags=("--output", "-o"))
    precision: str = option("int8", "int8 (NNCF post-training quantization) or fp32 (conversion only).")
    calibration_examples: int = option(300, "Training examples (a seeded sample) NNCF calibrates on.")
    check_examples: int = option(200, "Dev examples whose predictions are compared with the fp32 ONNX model's.")
    seed: int = option(42, "Seed of the calibration sample.")
    max_length: int | None = option(None, MAX_LENGTH_HELP)
    data_dir: str | None = option(None, DATA_DIR_HELP)
    overwrite: bool = option(False, OVERWRITE_HELP, flags=("--overwrite",))


def _inputs(model_dir: str, manifest, examples, max_length: int | None) -> list[dict[str, np.ndarray]]:
    tokenizer = load_tokenizer(model_dir)
    features = encode(examples, tokenizer, manifest.input_length(max_length))
    names = manifest.onnx.inputs or None
    return [{k: v.numpy() for k, v in collate([f], tokenizer.pad_token_id, manifest.multiple_choice).items()
             if names is None or k in names} for f in features]


def to_openvino(cfg: OpenVinoConfig) -> dict:
    """Convert (and for int8, quantize) ``cfg.model`` into an OpenVINO model directory."""
    ov = import_openvino()
    if cfg.precision not in ("int8", "fp32"):
        raise LeanformerError(f"unknown OpenVINO precision '{cfg.precision}'; expected int8 or fp32")
    check_output(cfg.output_dir, [cfg.model, cfg.data_dir], cfg.overwrite)
    source, manifest = read_onnx_model(cfg.model)
    if manifest.onnx.precision != "fp32" or manifest.onnx.format != "onnx":
        raise LeanformerError(f"{cfg.model}: expected an fp32 ONNX model, found {manifest.onnx.format} "
                              f"{manifest.onnx.precision}")
    task = task_for(manifest.task, cfg.data_dir)
    model = ov.convert_model(str(source))
    if cfg.precision == "int8":
        with quiet_logging():
            import nncf
        calibration = _inputs(cfg.model, manifest, task.read_for_training(cfg.calibration_examples, cfg.seed,
                                                                          test=False), cfg.max_length)
        with quiet_logging():
            model = nncf.quantize(model, nncf.Dataset(calibration), model_type=nncf.ModelType.TRANSFORMER,
                                  subset_size=len(calibration))
    graph = dataclasses.replace(manifest.onnx, file=OV_FILE, format="openvino", precision=cfg.precision,
                                fusions={}, quantization={"tool": "nncf", "calibration_examples":
                                                          cfg.calibration_examples} if cfg.precision == "int8" else None)
    new_manifest = dataclasses.replace(manifest, onnx=graph)

    def build(path):
        ov.save_model(model, str(path), compress_to_fp16=False)

    write_onnx_model(cfg.model, cfg.output_dir, build, new_manifest.with_step(
        "openvino", source=str(cfg.model), precision=cfg.precision, openvino=ov.__version__))
    agreement = prediction_agreement(cfg.model, cfg.output_dir, task.examples("dev")[: cfg.check_examples])
    Manifest.read(cfg.output_dir).with_step("check", agreement_with_fp32=agreement,
                                            check_examples=cfg.check_examples).write(cfg.output_dir)
    info(f"openvino: {cfg.output_dir} ({cfg.precision}); predictions agree with the fp32 ONNX model on "
         f"{100 * agreement:.1f}% of {min(cfg.check_examples, len(task.examples('dev')))} dev examples")
    return {"output_dir": cfg.output_dir, "precision": cfg.precision, "agreement_with_fp32": agreement}


def prediction_agreement(reference: str, candidate: str, examples: list) -> float:
    """Share of examples on which two models predict the same class."""
    a = Predictor(reference, batch_size=16).logits(examples).argmax(-1)
    b = Predictor(candidate, batch_size=16).logits(examples).argmax(-1)
    return float((a == b).mean())
