"""One object from raw texts to labels: tokenise, batch at dynamic length, run, restore order.

The same interface serves an exported ONNX model (ONNX Runtime) and a PyTorch leanformer model,
so the two can be compared like for like.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from leanformer.data.features import collate, encode, lengths, run_batches, sorted_batches, text_lengths
from leanformer.errors import LeanformerError
from leanformer.models import Manifest, load_model
from leanformer.models.loading import load_tokenizer
from leanformer.runtime.ctranslate2_backend import CTranslate2Backend
from leanformer.runtime.onnx_model import layer_norm_apart, read_onnx_model
from leanformer.runtime.openvino_backend import OpenVinoBackend
from leanformer.runtime.session import make_session, session_inputs
from leanformer.tasks import Example
from leanformer.utils.cpu import physical_cores
from leanformer.utils.device import autocast
from leanformer.utils.progress import quiet_logging


class OnnxBackend:
    def __init__(self, model_dir: str, threads: int | None, provider: str | None):
        path, manifest = read_onnx_model(model_dir)
        self.session = make_session(path, threads, provider or manifest.onnx.provider or "CPUExecutionProvider",
                                    layer_norm_apart(manifest))

    def __call__(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        return self.session.run(None, session_inputs(self.session, {k: v.numpy() for k, v in batch.items()}))[0]


class TorchBackend:
    """A PyTorch model; ``int8`` applies torchao's dynamic int8 (activations and weights), PyTorch's own path."""

    def __init__(self, model_dir: str, threads: int | None, int8: bool = False, bf16: bool = False):
        torch.set_num_threads(threads or physical_cores())
        self.model = load_model(model_dir)[0].eval()
        self.bf16 = bf16
        if int8:
            quantize_torch_int8(self.model)

    @torch.inference_mode()
    def __call__(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        with autocast(self.bf16):
            return self.model(**batch).logits.float().numpy()


def quantize_torch_int8(model: torch.nn.Module) -> None:
    """torchao's dynamic int8 quantization of every Linear, in place."""
    with quiet_logging():  # torchao logs that its GPU kernels cannot load on a CPU machine
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_
    quantize_(model, Int8DynamicActivationInt8WeightConfig())


def as_examples(inputs: list) -> list[Example]:
    """Accept task examples, texts, or (text, text_pair) tuples."""
    examples = []
    for i, item in enumerate(inputs):
        if isinstance(item, Example):
            examples.append(item)
        elif isinstance(item, str):
            examples.append(Example(str(i), ((item, None),)))
        elif isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(t, str) for t in item):
            examples.append(Example(str(i), ((item[0], item[1]),)))
        else:
            raise LeanformerError(f"input {i}: expected a text, a (text, text_pair) pair or an Example, got {item!r:.80}")
    return examples


@dataclass(frozen=True)
class PredictorConfig:
    """How a model is run; fixed when a predictor is built, so one predictor can be shared between threads."""

    #: leanformer model directory (ONNX if exported, else PyTorch)
    model: str
    #: intra-op threads (per worker, for a multi-instance predictor); None: physical cores (1 per worker)
    threads: int | None = None
    batch_size: int = 1
    #: batch inputs of similar length together (callers still get input order)
    sort_by_length: bool = True
    #: truncation; None: the length the model was trained at
    max_length: int | None = None
    provider: str | None = None
    #: pad every batch to this length (the fixed-shape baseline) instead of its own longest input
    fixed_length: int | None = None
    torch_int8: bool = False
    bf16: bool = False


def predictor_config(config: PredictorConfig | str | Path, settings: dict) -> PredictorConfig:
    """A config as given, or built from a model directory and keyword settings (the short form)."""
    if isinstance(config, PredictorConfig):
        return dataclasses.replace(config, **settings)
    return PredictorConfig(model=str(config), **settings)


class Inputs:
    """Tokenising and batching for one model directory, shared by every predictor."""

    def __init__(self, config: PredictorConfig):
        self.config = config
        self.manifest = Manifest.read(config.model)
        if self.manifest is None:
            raise LeanformerError(f"{config.model}: not a leanformer model (no leanformer.json)")
        self.tokenizer = load_tokenizer(config.model)
        self.max_length = self.manifest.input_length(config.max_length)

    def features(self, inputs: list) -> list[list[dict]]:
        return encode(as_examples(inputs), self.tokenizer, self.max_length)

    def batches(self, lens: np.ndarray, batch_size: int | None = None,
                sort_by_length: bool | None = None) -> list[np.ndarray]:
        """The configured batching of inputs of these lengths, or a call's own (an accuracy pass and a timed pass
        on one predictor)."""
        sort = self.config.sort_by_length if sort_by_length is None else sort_by_length
        return sorted_batches(lens, batch_size or self.config.batch_size, sort)

    def example_batches(self, examples: list[Example], batch_size: int | None = None) -> list[np.ndarray]:
        """Batches of untokenised examples, by text length: the same batches wherever the tokenising happens (a
        worker process, a Ray actor), which int8 models need to answer alike (their activation scales are
        per batch)."""
        return self.batches(text_lengths(examples), batch_size)

    def collate(self, features: list[list[dict]]) -> dict[str, torch.Tensor]:
        return collate(features, self.tokenizer.pad_token_id, self.manifest.multiple_choice, self.config.fixed_length)


class Predictor:
    """Predictions for a leanformer model directory, ONNX (if exported) or PyTorch.

    ``Predictor(PredictorConfig(...))``, or ``Predictor(model_dir, batch_size=8, ...)`` for short.
    """

    def __init__(self, config: PredictorConfig | str | Path, **settings):
        self.config = predictor_config(config, settings)
        self.inputs = Inputs(self.config)
        self.manifest = self.inputs.manifest
        c = self.config
        graph_format = self.manifest.onnx.format if self.manifest.onnx is not None else None
        if graph_format == "openvino":
            self.backend = OpenVinoBackend(read_onnx_model(c.model)[0], c.threads)
        elif graph_format == "ctranslate2":
            self.backend = CTranslate2Backend(c.model, c.threads)
        elif self.manifest.onnx_file:
            self.backend = OnnxBackend(c.model, c.threads, c.provider)
        else:
            self.backend = TorchBackend(c.model, c.threads, c.torch_int8, c.bf16)

    def run_batch(self, features: list[list[dict]]) -> np.ndarray:
        return self.backend(self.inputs.collate(features))

    def run_examples(self, examples: list) -> np.ndarray:
        """Logits of one batch of untokenised inputs, tokenised here: a worker's or an actor's job."""
        return self.run_batch(self.inputs.features(examples))

    def logits(self, inputs: list, progress=None, batch_size: int | None = None) -> np.ndarray:
        """Logits in input order."""
        return self.run_features(self.inputs.features(inputs), progress, batch_size)

    def run_features(self, features: list[list[dict]], progress=None, batch_size: int | None = None,
                     sort_by_length: bool | None = None) -> np.ndarray:
        """Logits for already tokenised inputs, in their order."""
        return run_batches(features, self.inputs.batches(lengths(features), batch_size, sort_by_length), self.run_batch,
                           progress)

    def predict(self, inputs: list) -> list[dict]:
        """``{"label", "probabilities"}`` per input, in input order."""
        return labelled(self.logits(inputs), self.manifest)


def labelled(logits: np.ndarray, manifest: Manifest) -> list[dict]:
    """Label name and class (or choice) probabilities for each row of logits."""
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    names = [str(i) for i in range(logits.shape[-1])] if manifest.multiple_choice else manifest.label_names
    return [{"label": names[int(p.argmax())], "probabilities": [round(float(x), 6) for x in p]} for p in probs]
