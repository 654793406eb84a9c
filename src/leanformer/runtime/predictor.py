"""One object from raw texts to labels: tokenise, batch at dynamic length, run, restore order.

The same interface serves an exported ONNX model (ONNX Runtime) and a PyTorch leanformer model,
so the two can be compared like for like.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from leanformer.data.features import collate, encode, lengths, sorted_batches
from leanformer.errors import LeanformerError
from leanformer.models import Manifest, load_model
from leanformer.models.loading import load_tokenizer
from leanformer.runtime.onnx_model import read_onnx_model
from leanformer.runtime.session import make_session, session_inputs
from leanformer.tasks import Example
from leanformer.utils.cpu import autocast, physical_cores
from leanformer.utils.progress import quiet_logging


class OnnxBackend:
    def __init__(self, model_dir: str, threads: int | None, provider: str | None):
        path, manifest = read_onnx_model(model_dir)
        self.session = make_session(path, threads, provider or manifest.runtime.get("provider", "CPUExecutionProvider"))

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


class Inputs:
    """Tokenising and batching for one model directory, shared by every predictor.

    ``sort_by_length`` groups inputs of similar length into a batch (much less padding for offline
    jobs); callers put results back in input order by index.
    """

    def __init__(self, model_dir: str, batch_size: int = 1, sort_by_length: bool = True, max_length: int = 128,
                 fixed_length: int | None = None):
        self.manifest = Manifest.read(model_dir)
        if self.manifest is None:
            raise LeanformerError(f"{model_dir}: not a leanformer model (no leanformer.json)")
        self.tokenizer = load_tokenizer(model_dir)
        self.batch_size, self.sort_by_length, self.max_length = batch_size, sort_by_length, max_length
        #: pad every batch to this length (the fixed-shape baseline) instead of its own longest input
        self.fixed_length = fixed_length

    def features(self, inputs: list) -> list[list[dict]]:
        return encode(as_examples(inputs), self.tokenizer, self.max_length)

    def batches(self, features: list[list[dict]]) -> list[np.ndarray]:
        if self.sort_by_length:
            return sorted_batches(lengths(features), self.batch_size)
        return [np.arange(i, min(i + self.batch_size, len(features))) for i in range(0, len(features), self.batch_size)]

    def collate(self, features: list[list[dict]]) -> dict[str, torch.Tensor]:
        return collate(features, self.tokenizer.pad_token_id, self.manifest.multiple_choice, self.fixed_length)


def gather(features: list, batches: list[np.ndarray], results) -> np.ndarray:
    """Stack per-batch results (an iterable of ``(batch_index, logits)``) back into input order."""
    out: list = [None] * len(features)
    for b, logits in results:
        for i, row in zip(batches[b], logits):
            out[i] = row
    return np.stack(out)


class Predictor:
    """Predictions for a leanformer model directory, ONNX (if exported) or PyTorch."""

    def __init__(self, model_dir: str | Path, threads: int | None = None, batch_size: int = 1,
                 sort_by_length: bool = True, max_length: int = 128, provider: str | None = None,
                 fixed_length: int | None = None, torch_int8: bool = False, bf16: bool = False):
        model_dir = str(model_dir)
        self.inputs = Inputs(model_dir, batch_size, sort_by_length, max_length, fixed_length)
        self.manifest = self.inputs.manifest
        self.backend = (OnnxBackend(model_dir, threads, provider) if self.manifest.onnx_file
                        else TorchBackend(model_dir, threads, torch_int8, bf16))

    def run_batch(self, features: list[list[dict]]) -> np.ndarray:
        return self.backend(self.inputs.collate(features))

    def logits(self, inputs: list, progress=None) -> np.ndarray:
        """Logits in input order."""
        return self.run_features(self.inputs.features(inputs), progress)

    def run_features(self, features: list[list[dict]], progress=None) -> np.ndarray:
        """Logits for already tokenised inputs, in their order."""
        batches = self.inputs.batches(features)

        def run():
            for b, idx in enumerate(batches):
                yield b, self.run_batch([features[i] for i in idx])
                if progress is not None:
                    progress(len(idx))

        return gather(features, batches, run())

    def predict(self, inputs: list) -> list[dict]:
        """``{"label", "probabilities"}`` per input, in input order."""
        return labelled(self.logits(inputs), self.manifest)


def labelled(logits: np.ndarray, manifest: Manifest) -> list[dict]:
    """Label name and class (or choice) probabilities for each row of logits."""
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    names = [str(i) for i in range(logits.shape[-1])] if manifest.multiple_choice else manifest.label_names
    return [{"label": names[int(p.argmax())], "probabilities": [round(float(x), 6) for x in p]} for p in probs]
