"""The on-disk model format: a ``save_pretrained`` directory plus ``leanformer.json``.

The manifest records what the model is for (task, labels) and how it was made (lineage of
steps with their configs and measured metrics), so every later step can be traced back.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from leanformer import __version__
from leanformer.errors import LeanformerError
from leanformer.utils.paths import atomic_dir, atomic_write_text

MANIFEST = "leanformer.json"
FORMAT_VERSION = 1
#: inputs are truncated to this many tokens unless the model or the caller says otherwise
DEFAULT_MAX_LENGTH = 128


@dataclass
class Structure:
    """A pruned model's kept head and FFN-neuron indices per layer and kept hidden channels, into the config's
    original shapes (layers are the config's: dropping layers rewrites the config and these lists alike)."""

    heads: list[list[int]] | None = None
    neurons: list[list[int]] | None = None
    hidden: list[int] | None = None
    #: the original layers the model still has (dropped by importance); None: all of them
    layers: list[int] | None = None
    #: layers (current indices, as strings) whose attention is approximated: {"3": {"method": ..., "k": ...}}
    attention: dict[str, dict] | None = None

    def keep_layers(self, keep: list[int]) -> "Structure":
        """The structure of the same model after keeping only the layers ``keep`` (0-based, current)."""
        keep = sorted(keep)
        return Structure(heads=[self.heads[i] for i in keep] if self.heads else None,
                         neurons=[self.neurons[i] for i in keep] if self.neurons else None, hidden=self.hidden,
                         layers=[self.layers[i] for i in keep] if self.layers else keep,
                         attention={str(keep.index(int(i))): a for i, a in (self.attention or {}).items()
                                    if int(i) in keep} or None)


@dataclass
class OnnxGraph:
    """An exported model's graph: where it is and how it was made (fusions, precision, quantization)."""

    file: str
    precision: str = "fp32"
    format: str = "onnx"
    inputs: list[str] = field(default_factory=list)
    fusions: dict = field(default_factory=dict)
    opset: int | None = None
    #: ONNX Runtime execution provider the graph is meant for (fp16 graphs: CUDA)
    provider: str | None = None
    quantization: dict | None = None

    def __post_init__(self):
        if not isinstance(self.file, str) or self.file in ("", ".", "..") or Path(self.file).name != self.file \
                or "\\" in self.file:
            # every path a manifest names must stay inside its model directory
            raise ValueError(f"field 'onnx.file' must name a file inside the model directory, got {self.file!r}")


@dataclass
class TunedInstances:
    """The fastest instances x threads x batch size measured by ``tune-instances``; ``predict`` uses it."""

    instances: int
    threads: int
    batch_size: int
    examples_per_second: float


#: the typed sections, by manifest field
SECTIONS = {"structure": Structure, "onnx": OnnxGraph, "tuned": TunedInstances}


@dataclass
class Manifest:
    task: dict
    label_names: list[str]
    multiple_choice: bool = False
    lineage: list[dict] = field(default_factory=list)
    structure: Structure | None = None
    onnx: OnnxGraph | None = None
    tuned: TunedInstances | None = None
    #: the input length (tokens) the model was trained at: every later step truncates there by default
    max_length: int | None = None
    format_version: int = FORMAT_VERSION
    leanformer_version: str = __version__

    def with_step(self, step: str, **details) -> "Manifest":
        """A copy with one more lineage entry (the step's name, time, and what it recorded)."""
        entry = {"step": step, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **details}
        return dataclasses.replace(self, lineage=[*self.lineage, entry], leanformer_version=__version__)

    @property
    def metrics(self) -> dict:
        """Metrics recorded by the latest step that measured any."""
        for entry in reversed(self.lineage):
            if entry.get("metrics"):
                return entry["metrics"]
        return {}

    @classmethod
    def read(cls, model_dir: str | Path) -> "Manifest | None":
        path = Path(model_dir) / MANIFEST
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise TypeError("expected a JSON object")
            data = _upgrade(data)
            known = {f.name for f in dataclasses.fields(cls)}
            fields = {k: v for k, v in data.items() if k in known}
            for name, section in SECTIONS.items():
                if fields.get(name) is not None:
                    fields[name] = section(**fields[name])
            manifest = cls(**fields)
        except (json.JSONDecodeError, TypeError, ValueError) as e:
            raise LeanformerError(f"{path}: not a valid leanformer manifest ({e})") from None
        if manifest.format_version > FORMAT_VERSION:
            raise LeanformerError(f"{path}: written by a newer leanformer (format {manifest.format_version})")
        return manifest

    def input_length(self, requested: int | None = None) -> int:
        """The truncation length to use: the caller's, else the model's own, else the default."""
        return requested or self.max_length or DEFAULT_MAX_LENGTH

    @property
    def onnx_file(self) -> str | None:
        """The ONNX graph's file name, for exported models."""
        return self.onnx.file if self.onnx else None

    def write(self, model_dir: str | Path) -> None:
        atomic_write_text(Path(model_dir, MANIFEST), json.dumps(dataclasses.asdict(self), indent=2) + "\n")


def save_model(model, tokenizer, manifest: Manifest, output_dir: str | Path) -> Path:
    """Write weights (safetensors), tokenizer and manifest atomically to ``output_dir``."""
    with atomic_dir(output_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        manifest.write(tmp)
    return Path(output_dir)


def _upgrade(data: dict) -> dict:
    """Manifests written before the typed sections kept the graph and the tuned setting in one ``runtime`` dict."""
    runtime = data.pop("runtime", None)
    if isinstance(runtime, dict):
        tuned = runtime.pop("instances", None)
        data.setdefault("onnx", runtime or None)
        data.setdefault("tuned", tuned)
    return data
