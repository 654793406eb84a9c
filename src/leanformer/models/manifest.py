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
class Manifest:
    task: dict
    label_names: list[str]
    multiple_choice: bool = False
    lineage: list[dict] = field(default_factory=list)
    #: for pruned models: kept head and FFN neuron indices per layer, into the config's original shapes
    structure: dict | None = None
    #: for ONNX models: file, precision, applied fusions, chosen operator variants, tuned instances
    runtime: dict | None = None
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
            known = {f.name for f in dataclasses.fields(cls)}
            manifest = cls(**{k: v for k, v in data.items() if k in known})
        except (json.JSONDecodeError, TypeError) as e:
            raise LeanformerError(f"{path}: not a valid leanformer manifest ({e})") from None
        if manifest.format_version > FORMAT_VERSION:
            raise LeanformerError(f"{path}: written by a newer leanformer (format {manifest.format_version})")
        graph = (manifest.runtime or {}).get("file")
        if graph is not None and (not isinstance(graph, str) or graph in ("", ".", "..") or Path(graph).name != graph
                                  or "\\" in graph):
            # every path a manifest names must stay inside its model directory
            raise LeanformerError(f"{path}: field 'runtime.file' must name a file inside the model directory, "
                                  f"got {graph!r}")
        return manifest

    def input_length(self, requested: int | None = None) -> int:
        """The truncation length to use: the caller's, else the model's own, else the default."""
        return requested or self.max_length or DEFAULT_MAX_LENGTH

    @property
    def onnx_file(self) -> str | None:
        """The ONNX graph's file name, for exported models."""
        return (self.runtime or {}).get("file")

    def write(self, model_dir: str | Path) -> None:
        atomic_write_text(Path(model_dir, MANIFEST), json.dumps(dataclasses.asdict(self), indent=2) + "\n")


def save_model(model, tokenizer, manifest: Manifest, output_dir: str | Path) -> Path:
    """Write weights (safetensors), tokenizer and manifest atomically to ``output_dir``."""
    with atomic_dir(output_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        manifest.write(tmp)
    return Path(output_dir)
