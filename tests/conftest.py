"""Shared fixtures: tiny random-weight models of each supported family, and small data files."""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # unit tests never reach for a model hub

from transformers import AutoConfig, AutoModel, BertTokenizerFast  # noqa: E402

FAMILIES = ("bert", "roberta", "xlm-roberta", "distilbert", "electra", "mpnet")
WORDS = ("the a cat dog bird sat ran on under mat rug is was not very good bad great awful fine film book "
         "yes no true false it this that and or claim evidence says".split())
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]


def make_tiny_model(path: Path, family: str = "bert", layers: int = 2, heads: int = 4, hidden: int = 32,
                    intermediate: int = 48) -> Path:
    """Save a random-weight encoder (no task head) with a word-level tokenizer to ``path``."""
    size = {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads}
    if family == "distilbert":
        size = {"dim": hidden, "n_layers": layers, "n_heads": heads, "hidden_dim": intermediate}
    else:
        size["intermediate_size"] = intermediate
    config = AutoConfig.for_model(family, vocab_size=len(VOCAB), max_position_embeddings=160, pad_token_id=0,
                                  **size)
    AutoModel.from_config(config).save_pretrained(path)
    inputs = ["input_ids", "attention_mask"] + (["token_type_ids"] if family in ("bert", "electra") else [])
    BertTokenizerFast(vocab={w: i for i, w in enumerate(VOCAB)}, model_input_names=inputs).save_pretrained(path)
    return path


@pytest.fixture
def tiny_model(tmp_path):
    """Factory: ``tiny_model("roberta")`` -> directory of a fresh tiny model."""
    def make(family: str = "bert", **kwargs) -> Path:
        return make_tiny_model(tmp_path / f"tiny-{family}-{random.randrange(1 << 30)}", family, **kwargs)
    return make


def toy_rows(n: int, seed: int = 0) -> list[dict]:
    """Sentiment-like rows whose label is decided by one word, so a tiny model can learn it."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = rng.choice(["pos", "neg"])
        word = rng.choice(["good", "great", "fine"] if label == "pos" else ["bad", "awful"])
        subject = rng.choice(["the film", "this book", "the cat", "a dog"])
        rows.append({"id": i, "text": f"{subject} is {'very ' * rng.randint(0, 3)}{word}", "label": label})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def toy_dataset(tmp_path) -> Path:
    """A generic-task folder with train/dev/test jsonl files of the toy rows."""
    root = tmp_path / "toy"
    write_jsonl(root / "train.jsonl", toy_rows(160, seed=1))
    write_jsonl(root / "dev.jsonl", toy_rows(40, seed=2))
    write_jsonl(root / "test.jsonl", toy_rows(40, seed=3))
    return root


def train_toy(root: Path, layers: int = 2, family: str = "bert") -> tuple[Path, Path]:
    """Fine-tune a tiny model (BERT unless told) on the toy task (BERT reaches 100% dev accuracy); returns
    (model dir, data dir)."""
    from leanformer.tasks import TaskConfig
    from leanformer.training import TrainConfig, train

    data = root / "data"
    write_jsonl(data / "train.jsonl", toy_rows(160, seed=1))
    write_jsonl(data / "dev.jsonl", toy_rows(40, seed=2))
    write_jsonl(data / "test.jsonl", toy_rows(40, seed=3))
    base = make_tiny_model(root / "base", family, layers=layers, hidden=32, heads=4)
    train(TrainConfig(model=str(base), task=TaskConfig(name="generic", data_dir=str(data)), output_dir=str(root / "torch"),
                      epochs=6, batch_size=16, learning_rate=3e-3, warmup_ratio=0.1, bf16=False, show_progress=False,
                      threads=1))
    return root / "torch", data


@pytest.fixture(scope="session")
def trained_toy(tmp_path_factory):
    """A 2-layer BERT fine-tuned on the toy task, its data, and its ONNX export."""
    from leanformer.export import ExportConfig, export_model

    root = tmp_path_factory.mktemp("toy-trained")
    model, data = train_toy(root)
    export_model(ExportConfig(model=str(model), output_dir=str(root / "onnx")))
    return {"data": data, "torch": model, "onnx": root / "onnx"}


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray for every test that needs it (starting Ray costs tens of seconds on 2 cores)."""
    from leanformer.runtime.ray_engine import connect  # the ray extra is part of the dev set: CI runs these

    ray = connect(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture
def without_module(monkeypatch):
    """``without_module("ray")``: importing that package (or its submodules) fails, as where it is not installed."""
    import builtins

    real_import = builtins.__import__

    def hide(package: str) -> None:
        def fake(name, *args, **kwargs):
            if name == package or name.startswith(package + "."):
                raise ImportError(f"No module named '{package}'")
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", fake)
        monkeypatch.setitem(sys.modules, package, None)  # importlib.import_module does not go through __import__

    return hide
