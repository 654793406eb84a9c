"""Loading encoders for a task: built-in names, local directories, hub ids, leanformer outputs."""

from __future__ import annotations

import functools
import json
import pickle
import socket
from pathlib import Path
from urllib.parse import urlparse

import huggingface_hub

import transformers
from safetensors.torch import load_model as load_safetensors
from transformers import AutoConfig, AutoModelForMultipleChoice, AutoModelForSequenceClassification, AutoTokenizer

from leanformer.errors import LeanformerError
from leanformer.models.manifest import Manifest
from leanformer.models.sources import BUILTIN_SOURCES, builtin_path
from leanformer.models.structure import apply_structure

#: encoder families leanformer handles end to end (training, distillation, pruning, export)
SUPPORTED_MODEL_TYPES = ("bert", "roberta", "xlm-roberta", "distilbert", "electra", "mpnet")

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()


def resolve(source: str | Path) -> str:
    """A built-in name becomes its cached directory; a directory stays; anything else is a hub id."""
    source = str(source)
    if source in BUILTIN_SOURCES:
        return str(builtin_path(source))
    if Path(source).exists():
        if not Path(source).is_dir():
            raise LeanformerError(f"model source {source} is a file; expected a model directory")
        return source
    if source.startswith((".", "/", "~")) or source.count("/") > 1:
        raise LeanformerError(f"model directory not found: {source}")
    _offline_unless_hub_reachable()
    return source


@functools.cache
def _offline_unless_hub_reachable() -> None:
    """One quick connection test; an unreachable hub switches to the local hub cache at once.

    Without it every file request retries with back-off for about half a minute before failing.
    """
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        return
    url = urlparse(huggingface_hub.constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout=5).close()
    except OSError:
        huggingface_hub.constants.HF_HUB_OFFLINE = True


def _unreachable(source: str, what: str, err: Exception) -> LeanformerError:
    names = ", ".join(BUILTIN_SOURCES)
    if Path(source).is_dir():
        return LeanformerError(f"{source}: cannot load its {what} ({str(err).splitlines()[0]})")
    return LeanformerError(f"cannot load '{source}': not a built-in model ({names}), not a local directory, "
                           f"and the model hub could not provide its {what} ({str(err).splitlines()[0]})")


def _custom_code(source: str) -> bool:
    """Whether a local model directory declares code of its own (``auto_map``) for an architecture we do not know."""
    path = Path(source) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "auto_map" in config and config.get("model_type") not in SUPPORTED_MODEL_TYPES


def load_config(source: str):
    if _custom_code(source):
        raise LeanformerError(f"{source}: the model needs custom code from its directory (config.json has 'auto_map'); "
                              f"leanformer never runs code shipped with a model. Supported: {', '.join(SUPPORTED_MODEL_TYPES)}")
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError) as e:
        raise _unreachable(source, "config.json", e) from None
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise LeanformerError(f"{source}: architecture '{config.model_type}' is not supported; "
                              f"supported: {', '.join(SUPPORTED_MODEL_TYPES)}")
    return config


#: files any of which makes a directory's tokenizer loadable; without them transformers v5 quietly
#: builds an empty-vocabulary tokenizer that maps every word to [UNK]
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "sentencepiece.bpe.model", "spiece.model", "tokenizer.model")


def load_tokenizer(source: str):
    if Path(source).is_dir() and not any((Path(source) / f).is_file() for f in TOKENIZER_FILES):
        raise LeanformerError(f"{source}: no tokenizer in the model directory (expected one of {', '.join(TOKENIZER_FILES)})")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError, TypeError) as e:
        raise _unreachable(source, "tokenizer", e) from None
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise LeanformerError(f"{source}: no usable tokenizer (expected tokenizer.json or vocabulary files)")
    return tokenizer


def load_for_task(source: str | Path, label_names: list[str], multiple_choice: bool = False):
    """Load ``(model, tokenizer, manifest)`` with a head for the task's labels.

    A fresh head is initialised when the checkpoint has none (or one for other labels); a
    leanformer model directory keeps its own head and manifest.
    """
    path = resolve(source)
    config = load_config(path)
    tokenizer = load_tokenizer(path)
    manifest = Manifest.read(path) if Path(path).is_dir() else None
    cls = AutoModelForMultipleChoice if multiple_choice else AutoModelForSequenceClassification
    if not multiple_choice:
        config.id2label = dict(enumerate(label_names))
        config.label2id = {n: i for i, n in enumerate(label_names)}
    keep_head = manifest is not None and manifest.label_names == label_names and manifest.multiple_choice == multiple_choice
    if manifest is not None and manifest.structure:
        if not keep_head:
            raise LeanformerError(f"{source}: a pruned model keeps its own task head; it cannot be re-headed for other labels")
        return _load_pruned(path, cls, config, manifest), tokenizer, manifest
    try:
        model = cls.from_pretrained(path, config=config, trust_remote_code=False,
                                    **({} if keep_head else {"ignore_mismatched_sizes": True}))
    except pickle.UnpicklingError:
        raise LeanformerError(f"{path}: its weights file is a pickle holding more than tensors, and leanformer loads "
                              "weights only; convert the checkpoint to safetensors") from None
    except (OSError, ValueError) as e:
        raise _unreachable(path, "weights", e) from None
    return model, tokenizer, (manifest if keep_head else None)


def _load_pruned(path: str, cls, config, manifest: Manifest):
    """Stock model at full size, sliced to the recorded structure, then the saved weights."""
    model = cls.from_config(config)
    apply_structure(model, manifest.structure.heads, manifest.structure.neurons, manifest.structure.hidden,
                    manifest.structure.attention)
    try:
        load_safetensors(model, str(Path(path) / "model.safetensors"), strict=True)
    except (OSError, RuntimeError) as e:
        raise LeanformerError(f"{path}: weights do not match the pruned structure in its manifest ({str(e).splitlines()[0]})") from None
    return model.eval()


def load_model(model_dir: str | Path):
    """Load a leanformer model directory: ``(model, tokenizer, manifest)``."""
    path = resolve(model_dir)
    manifest = Manifest.read(path) if Path(path).is_dir() else None
    if manifest is None:
        raise LeanformerError(f"{model_dir}: not a leanformer model (no leanformer.json); "
                              "fine-tune it first with `leanformer train`")
    model, tokenizer, _ = load_for_task(path, manifest.label_names, manifest.multiple_choice)
    return model, tokenizer, manifest


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
