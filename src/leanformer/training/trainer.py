"""Fine-tuning a model on a task (``leanformer train``).

The run lives in ``<output>.work/`` (periodic checkpoint, best model so far, history) until it
finishes; only then is the best model written to ``<output>`` with its manifest. A killed run
is continued with ``resume=True`` from its last checkpoint, seeing the same batches it would
have seen.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForMultipleChoice, AutoModelForSequenceClassification, get_linear_schedule_with_warmup

from leanformer.errors import LeanformerError
from leanformer.evaluation import predict_logits
from leanformer.models import Manifest, count_parameters, load_for_task, save_model
from leanformer.tasks import Task, TaskConfig, get_task
from leanformer.training.batching import collate, encode, length_grouped_batches, lengths
from leanformer.training.precision import autocast, cpu_has_bf16, physical_cores
from leanformer.utils.paths import atomic_dir, atomic_write_text
from leanformer.utils.progress import ProgressBar, info


@dataclass
class TrainConfig:
    model: str
    task: TaskConfig
    output_dir: str
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 3e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    max_length: int = 128
    seed: int = 42
    #: bf16 autocast; None = on where the CPU supports bf16 natively
    bf16: bool | None = None
    #: train on a random subset of this many training examples
    train_limit: int | None = None
    #: evaluate on the first N dev examples only
    eval_limit: int | None = None
    eval_batch_size: int = 64
    #: save a resumable checkpoint every N optimizer steps
    checkpoint_every: int = 200
    #: continue from the checkpoint in ``<output_dir>.work`` if there is one
    resume: bool = False
    threads: int | None = None
    show_progress: bool = True

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["task"] = self.task.to_dict()
        return d


@dataclass
class TrainState:
    """What a checkpoint must remember besides weights and optimizer."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best_metric: float = -math.inf
    best_epoch: int = -1
    history: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0


def _optimizer(model, cfg: TrainConfig):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=cfg.learning_rate)


def _save_checkpoint(path: Path, model, tokenizer, optimizer, scheduler, state: TrainState) -> None:
    with atomic_dir(path) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": torch.get_rng_state()}, tmp / "trainer_state.pt")
        (tmp / "state.json").write_text(json.dumps(dataclasses.asdict(state)), encoding="utf-8")


def _load_checkpoint(path: Path, model_cls, optimizer_factory, scheduler_factory):
    model = model_cls.from_pretrained(path)
    optimizer = optimizer_factory(model)
    scheduler = scheduler_factory(optimizer)
    blob = torch.load(path / "trainer_state.pt", weights_only=True)
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    torch.set_rng_state(blob["rng"])
    state = TrainState(**json.loads((path / "state.json").read_text(encoding="utf-8")))
    return model, optimizer, scheduler, state


def _subset(examples: list, limit: int | None, seed: int) -> list:
    if not limit or limit >= len(examples):
        return examples
    idx = np.sort(np.random.default_rng(seed).choice(len(examples), size=limit, replace=False))
    return [examples[i] for i in idx]


def train(cfg: TrainConfig) -> dict:
    """Fine-tune ``cfg.model`` on ``cfg.task``; returns the final metrics and where the model is."""
    if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.learning_rate <= 0:
        raise LeanformerError("epochs and batch size must be at least 1 and the learning rate positive")
    torch.set_num_threads(cfg.threads or physical_cores())
    torch.manual_seed(cfg.seed)  # before the model is built: a new task head is randomly initialised
    bf16 = cpu_has_bf16() if cfg.bf16 is None else cfg.bf16
    task = get_task(cfg.task)
    # read and validate all data before anything is written
    train_examples = _subset(task.examples("train"), cfg.train_limit, cfg.seed)
    dev_examples = task.examples("dev")[: cfg.eval_limit]
    model, tokenizer, base_manifest = load_for_task(cfg.model, task.label_names, task.multiple_choice)
    pad_id = tokenizer.pad_token_id
    train_features = encode(train_examples, tokenizer, cfg.max_length)
    dev_features = encode(dev_examples, tokenizer, cfg.max_length)
    train_lengths = lengths(train_features)

    steps_per_epoch = math.ceil(len(train_features) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    optimizer_factory = lambda m: _optimizer(m, cfg)  # noqa: E731
    scheduler_factory = lambda o: get_linear_schedule_with_warmup(o, int(cfg.warmup_ratio * total_steps), total_steps)  # noqa: E731

    work = Path(f"{cfg.output_dir}.work")
    checkpoint, best_dir = work / "checkpoint", work / "best"
    if work.exists() and not cfg.resume:
        raise LeanformerError(f"{work} holds an unfinished run; continue it with --resume or delete it")
    if cfg.resume and (checkpoint / "state.json").is_file():
        model_cls = AutoModelForMultipleChoice if task.multiple_choice else AutoModelForSequenceClassification
        model, optimizer, scheduler, state = _load_checkpoint(checkpoint, model_cls, optimizer_factory, scheduler_factory)
        info(f"resuming from {checkpoint}: epoch {state.epoch + 1}, step {state.step_in_epoch}/{steps_per_epoch}")
    else:
        optimizer, scheduler, state = optimizer_factory(model), None, TrainState()
        scheduler = scheduler_factory(optimizer)
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_text(work / "config.json", json.dumps(cfg.to_dict(), indent=2))

    info(f"training {cfg.model} on {task.name}: {len(train_features)} examples, {cfg.epochs} epochs x "
         f"{steps_per_epoch} steps, batch {cfg.batch_size}, {'bf16 autocast' if bf16 else 'fp32'}, "
         f"{torch.get_num_threads()} threads, {count_parameters(model) / 1e6:.1f}M parameters")
    while state.epoch < cfg.epochs:
        model.train()
        batches = length_grouped_batches(train_lengths, cfg.batch_size, cfg.seed, state.epoch)
        loss_ema, seen, started = None, 0, time.perf_counter()
        with ProgressBar(steps_per_epoch, f"epoch {state.epoch + 1}/{cfg.epochs}", enabled=cfg.show_progress) as bar:
            bar.advance(state.step_in_epoch)
            for idx in batches[state.step_in_epoch:]:
                inputs = collate([train_features[i] for i in idx], pad_id, task.multiple_choice)
                labels = torch.tensor([train_examples[i].label for i in idx])
                with autocast(bf16):
                    logits = model(**inputs).logits
                loss = torch.nn.functional.cross_entropy(logits.float(), labels)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state.step_in_epoch += 1
                state.global_step += 1
                seen += len(idx)
                loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
                elapsed = time.perf_counter() - started
                bar.advance(1, f"loss {loss_ema:.4f} | {seen / elapsed:.1f} ex/s | lr {scheduler.get_last_lr()[0]:.2e}")
                if state.global_step % cfg.checkpoint_every == 0:
                    state.train_seconds += time.perf_counter() - started
                    seen, started = 0, time.perf_counter()
                    _save_checkpoint(checkpoint, model, tokenizer, optimizer, scheduler, state)
        state.train_seconds += time.perf_counter() - started
        logits = predict_logits(model, dev_features, pad_id, task.multiple_choice, cfg.eval_batch_size, bf16,
                                description="evaluate dev", show_progress=cfg.show_progress)
        metrics = task.compute_metrics(dev_examples, logits)
        state.history.append({"epoch": state.epoch + 1, "loss": loss_ema, "dev": metrics})
        info(f"epoch {state.epoch + 1}: dev " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        if metrics[task.primary_metric] > state.best_metric:
            state.best_metric, state.best_epoch = metrics[task.primary_metric], state.epoch + 1
            with atomic_dir(best_dir) as tmp:
                model.save_pretrained(tmp)
        state.epoch += 1
        state.step_in_epoch = 0
        _save_checkpoint(checkpoint, model, tokenizer, optimizer, scheduler, state)

    return _finish(cfg, task, tokenizer, base_manifest, state, bf16, best_dir, work)


def _finish(cfg: TrainConfig, task: Task, tokenizer, base_manifest: Manifest | None, state: TrainState,
            bf16: bool, best_dir: Path, work: Path) -> dict:
    """Score the best epoch's model on dev and (if labelled) test, then publish it with its manifest."""
    model_cls = AutoModelForMultipleChoice if task.multiple_choice else AutoModelForSequenceClassification
    model = model_cls.from_pretrained(best_dir)
    metrics = {}
    for split in ("dev", "test"):
        examples = task.examples(split)[: cfg.eval_limit]
        if any(ex.label is None for ex in examples):
            continue
        features = encode(examples, tokenizer, cfg.max_length)
        logits = predict_logits(model, features, tokenizer.pad_token_id, task.multiple_choice, cfg.eval_batch_size,
                                bf16, description=f"evaluate {split}", show_progress=cfg.show_progress)
        metrics[split] = task.compute_metrics(examples, logits)
    manifest = base_manifest or Manifest(task=cfg.task.to_dict(), label_names=task.label_names,
                                         multiple_choice=task.multiple_choice)
    manifest = manifest.with_step(
        "train", source=str(cfg.model), config=cfg.to_dict(), best_epoch=state.best_epoch, history=state.history,
        metrics=metrics, metrics_precision="bf16" if bf16 else "fp32", train_seconds=round(state.train_seconds, 1),
        train_examples=len(task.examples("train")) if not cfg.train_limit else cfg.train_limit,
        parameters=count_parameters(model))
    save_model(model, tokenizer, manifest, cfg.output_dir)
    shutil.rmtree(work, ignore_errors=True)
    info(f"saved {cfg.output_dir} (best epoch {state.best_epoch}): " +
         "; ".join(f"{s} " + ", ".join(f"{k} {v:.4f}" for k, v in m.items()) for s, m in metrics.items()))
    return {"output_dir": str(cfg.output_dir), "best_epoch": state.best_epoch, "metrics": metrics,
            "train_seconds": round(state.train_seconds, 1), "history": state.history}
