"""CTranslate2 models from leanformer PyTorch models: the peer runtime `leanformer bench` compares with.

CTranslate2 converts BERT, DistilBERT and XLM-RoBERTa encoders (not MPNet or ELECTRA); this converts BERT
sequence classifiers (MiniLM included), unpruned, since CTranslate2 reads the stock shapes from the config.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

from safetensors.numpy import save_file

from leanformer.errors import LeanformerError
from leanformer.models import load_model
from leanformer.models.manifest import OnnxGraph
from leanformer.runtime.ctranslate2_backend import ENCODER_DIR, HEAD_FILE, import_ctranslate2
from leanformer.runtime.onnx_model import SIDE_FILES
from leanformer.utils.paths import atomic_dir, check_output
from leanformer.utils.progress import quiet_logging


def to_ctranslate2(model: str, output_dir: str, quantization: str | None = "int8", overwrite: bool = False) -> str:
    """Convert a leanformer BERT classifier to a CTranslate2 model directory (``quantization``: int8, or None to
    keep float32); returns ``output_dir``."""
    ct2 = import_ctranslate2()
    check_output(output_dir, [model], overwrite)
    torch_model, _, manifest = load_model(model)
    family = torch_model.config.model_type
    if family != "bert" or manifest.structure is not None or manifest.multiple_choice:
        raise LeanformerError(f"{model}: the CTranslate2 peer runs unpruned BERT-family sequence classifiers; this "
                              f"is {'a pruned ' if manifest.structure is not None else ''}{family}"
                              f"{' (multiple choice)' if manifest.multiple_choice else ''}")
    head = torch_model.classifier
    with atomic_dir(output_dir) as tmp, tempfile.TemporaryDirectory() as staged:
        # the converter checks config.position_embedding_type, which transformers 5 no longer writes (BERT's
        # position embeddings are always absolute there): give it a config that says so, beside the weights
        config = json.loads((Path(model) / "config.json").read_text(encoding="utf-8"))
        (Path(staged) / "config.json").write_text(json.dumps({"position_embedding_type": "absolute", **config}))
        (Path(staged) / "model.safetensors").symlink_to(Path(model, "model.safetensors").resolve())
        with quiet_logging():
            ct2.converters.TransformersConverter(staged).convert(str(tmp / ENCODER_DIR), quantization=quantization)
        save_file({"weight": head.weight.detach().numpy(), "bias": head.bias.detach().numpy()}, str(tmp / HEAD_FILE))
        for name in SIDE_FILES:
            if (Path(model) / name).is_file():
                shutil.copy2(Path(model) / name, tmp / name)
        graph = OnnxGraph(file=HEAD_FILE, format="ctranslate2", precision=quantization or "fp32",
                          inputs=["input_ids", "attention_mask", "token_type_ids"],
                          quantization={"tool": "ctranslate2", "version": ct2.__version__} if quantization else None)
        dataclasses.replace(manifest, onnx=graph).with_step("ctranslate2", source=str(model),
                                                            quantization=quantization).write(tmp)
    return output_dir
