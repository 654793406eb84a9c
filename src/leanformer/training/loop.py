"""The training loop every workflow uses: it owns batching, numerics, checkpoints and model selection.

A workflow (fine-tuning, distillation, re-distillation after pruning) builds a :class:`Run` with
its model and its loss, and :func:`fit` does the rest. The run lives in ``<output>.work/``
(periodic checkpoint, best model so far) until it finishes; only then is the best model written
to ``<output>`` with its manifest. A killed run continues with ``resume=True`` from its last
checkpoint and sees the same batches it would have seen.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_model, save_model
from transformers import get_linear_schedule_with_warmup

from leanformer.errors import LeanformerError
from leanformer.models import Manifest, count_parameters, save_model as save_leanformer_model
from leanformer.models.anatomy import hidden_width
from leanformer.models.inference import predict_logits
from leanformer.tasks import Example, Task
from leanformer.data.features import collate, encode, length_grouped_batches, lengths
from leanformer.training.options import TrainOptions, resolve_defaults
from leanformer.utils.cpu import physical_cores
from leanformer.utils.device import autocast, device_of, has_bf16, resolve_device, to_device
from leanformer.utils.paths import atomic_dir, atomic_write_text, remove_stale
from leanformer.utils.progress import ProgressBar, info

#: ``loss(model, inputs, batch_indices, labels)``; batch indices point into ``Run.train_examples``
LossFn = Callable[[torch.nn.Module, dict, np.ndarray, torch.Tensor], torch.Tensor]


@dataclass
class Run:
    """The moving parts of one training run."""

    model: torch.nn.Module
    tokenizer: object
    task: Task
    train_examples: list[Example]
    options: TrainOptions
    output_dir: str
    loss: LossFn
    #: manifest to extend (the input model's, or a fresh one)
    manifest: Manifest
    #: lineage entry name and what it records besides metrics
    step: str = "train"
    details: dict = field(default_factory=dict)
    #: trained alongside the model but not saved with it (e.g. projections for hidden-state losses)
    extra: torch.nn.Module | None = None


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
    #: distinct classes the best epoch predicts on dev (1: the model has not learned the task)
    best_distinct_predictions: int = 0


def use_bf16(options: TrainOptions) -> bool:
    """bf16 autocast as asked, or where the device supports it natively when not asked."""
    return has_bf16(resolve_device(options.device)) if options.bf16 is None else options.bf16


def begin(options: TrainOptions) -> bool:
    """Check the device, set threads and seed before anything random happens (a new task head is randomly
    initialised). Workflows then put their models on ``resolve_device(options.device)``.

    Returns whether to use bf16 autocast.
    """
    if (options.epochs is not None and options.epochs < 1) or options.batch_size < 1 or (
            options.learning_rate is not None and options.learning_rate <= 0):
        raise LeanformerError("epochs and batch size must be at least 1 and the learning rate positive")
    torch.set_num_threads(options.threads or physical_cores())
    torch.manual_seed(options.seed)  # seeds every CUDA device too
    return use_bf16(options)


def cross_entropy(model, inputs, idx, labels) -> torch.Tensor:
    """Hard-label loss, for plain fine-tuning."""
    return torch.nn.functional.cross_entropy(model(**inputs).logits.float(), labels)


def _trainable(run: Run) -> torch.nn.Module:
    return torch.nn.ModuleList([run.model, run.extra]) if run.extra is not None else run.model


def _optimizer(module: torch.nn.Module, opts: TrainOptions):
    """AdamW, fused where PyTorch has the kernel: the default implementation loops over parameters in Python
    and its element-wise passes were the largest cost after the matrix products in a profile of a CPU
    training step (docs/benchmarks.md)."""
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": opts.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=opts.learning_rate,
                             fused=device_of(module).type in ("cpu", "cuda"))


def _save_checkpoint(path: Path, trainable, optimizer, scheduler, state: TrainState) -> None:
    with atomic_dir(path) as tmp:
        save_model(trainable, str(tmp / "model.safetensors"))
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
                   tmp / "trainer_state.pt")
        (tmp / "state.json").write_text(json.dumps(dataclasses.asdict(state)), encoding="utf-8")


def _load_checkpoint(path: Path, trainable, optimizer, scheduler) -> TrainState:
    load_model(trainable, str(path / "model.safetensors"), strict=True, device=str(device_of(trainable)))
    blob = torch.load(path / "trainer_state.pt", weights_only=True)
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    torch.set_rng_state(blob["rng"])
    if torch.cuda.is_available() and len(blob.get("cuda_rng", [])) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(blob["cuda_rng"])
    return TrainState(**json.loads((path / "state.json").read_text(encoding="utf-8")))


def fit(run: Run) -> dict:
    """Train, keep the best epoch by the task's primary dev metric, score it, and publish it."""
    run.options = resolve_defaults(run.options, hidden_width(run.model), len(run.train_examples),
                                   run.manifest.input_length())
    run.details = {**run.details, "config": {**run.details.get("config", {}), "epochs": run.options.epochs,
                                             "learning_rate": run.options.learning_rate,
                                             "max_length": run.options.max_length}}
    opts, task, model = run.options, run.task, run.model
    bf16 = use_bf16(opts)
    pad_id = run.tokenizer.pad_token_id
    dev_examples = task.examples("dev")[: opts.eval_limit]
    train_features = encode(run.train_examples, run.tokenizer, opts.max_length)
    dev_features = encode(dev_examples, run.tokenizer, opts.max_length)
    train_lengths = lengths(train_features)
    labels = np.array([-100 if ex.label is None else ex.label for ex in run.train_examples])

    steps_per_epoch = math.ceil(len(train_features) / opts.batch_size)
    total_steps = steps_per_epoch * opts.epochs
    device = device_of(model)
    trainable = _trainable(run).to(device)
    optimizer = _optimizer(trainable, opts)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(opts.warmup_ratio * total_steps), total_steps)

    work = Path(f"{run.output_dir}.work")
    checkpoint, best_dir = work / "checkpoint", work / "best"
    if work.exists() and not opts.resume:
        raise LeanformerError(f"{work} holds an unfinished run; continue it with --resume or delete it")
    state = TrainState()
    if opts.resume and work.is_dir():
        remove_stale(work)  # puts back a checkpoint whose replacement a kill cut short
    if opts.resume and (checkpoint / "state.json").is_file():
        state = _load_checkpoint(checkpoint, trainable, optimizer, scheduler)
        info(f"resuming from {checkpoint}: epoch {state.epoch + 1}, step {state.step_in_epoch}/{steps_per_epoch}")
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_text(work / "config.json", json.dumps(run.details.get("config", {}), indent=2))

    info(f"{run.step} on {task.name}: {len(train_features)} examples, {opts.epochs} epochs x {steps_per_epoch} steps, "
         f"batch {opts.batch_size}, {'bf16 autocast' if bf16 else 'fp32'}, "
         f"{device if device.type != 'cpu' else f'{torch.get_num_threads()} threads'}, "
         f"{count_parameters(model) / 1e6:.1f}M parameters")
    while state.epoch < opts.epochs:
        trainable.train()
        batches = length_grouped_batches(train_lengths, opts.batch_size, opts.seed, state.epoch)
        loss_ema, seen, started = None, 0, time.perf_counter()
        with ProgressBar(steps_per_epoch, f"epoch {state.epoch + 1}/{opts.epochs}", enabled=opts.show_progress,
                         done=state.step_in_epoch) as bar:
            for idx in batches[state.step_in_epoch:]:
                inputs = to_device(collate([train_features[i] for i in idx], pad_id, task.multiple_choice), device)
                with autocast(bf16, device):
                    loss = run.loss(model, inputs, idx, torch.from_numpy(labels[idx]).to(device))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable.parameters(), opts.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state.step_in_epoch += 1
                state.global_step += 1
                seen += len(idx)
                loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
                rate = seen / (time.perf_counter() - started)
                bar.advance(1, f"loss {loss_ema:.4f} | {rate:.1f} ex/s | lr {scheduler.get_last_lr()[0]:.2e}")
                if (state.global_step % opts.checkpoint_every == 0
                        or time.perf_counter() - started >= 60 * opts.checkpoint_minutes):
                    state.train_seconds += time.perf_counter() - started
                    seen, started = 0, time.perf_counter()
                    _save_checkpoint(checkpoint, trainable, optimizer, scheduler, state)
        state.train_seconds += time.perf_counter() - started
        logits = predict_logits(model, dev_features, pad_id, task.multiple_choice, opts.eval_batch_size, bf16,
                                description="evaluate dev", show_progress=opts.show_progress)
        metrics = task.compute_metrics(dev_examples, logits)
        state.history.append({"epoch": state.epoch + 1, "loss": loss_ema, "dev": metrics})
        info(f"epoch {state.epoch + 1}: dev " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        if metrics[task.primary_metric] > state.best_metric:
            state.best_metric, state.best_epoch = metrics[task.primary_metric], state.epoch + 1
            state.best_distinct_predictions = len(np.unique(task.predict(dev_examples, logits)))
            with atomic_dir(best_dir) as tmp:
                save_model(model, str(tmp / "model.safetensors"))
        state.epoch += 1
        state.step_in_epoch = 0
        _save_checkpoint(checkpoint, trainable, optimizer, scheduler, state)

    load_model(model, str(best_dir / "model.safetensors"), strict=True, device=str(device))
    return _publish(run, state, bf16, work)


def score_split(model, tokenizer, task: Task, split: str, opts: TrainOptions, bf16: bool) -> dict | None:
    """Task metrics on the first ``opts.eval_limit`` examples of ``split``; None when it has no labels or no file."""
    if not task.has_split(split):
        return None
    examples = task.examples(split)[: opts.eval_limit]
    if any(ex.label is None for ex in examples):
        return None
    logits = predict_logits(model, encode(examples, tokenizer, opts.max_length), tokenizer.pad_token_id,
                            task.multiple_choice, opts.eval_batch_size, bf16, description=f"evaluate {split}",
                            show_progress=opts.show_progress)
    return task.compute_metrics(examples, logits)


def _publish(run: Run, state: TrainState, bf16: bool, work: Path) -> dict:
    """Score the best epoch's model on dev and (if labelled) test, then write it with its manifest."""
    opts, task = run.options, run.task
    scored = {split: score_split(run.model, run.tokenizer, task, split, opts, bf16) for split in ("dev", "test")}
    metrics = {split: m for split, m in scored.items() if m is not None}
    warnings = []
    if state.best_distinct_predictions == 1 and not task.multiple_choice:
        warnings.append("the model answers the same class for every dev example: it has not learned the task "
                        "(try more training data, more epochs or another --lr)")
        info(f"[bold yellow]warning:[/] {warnings[-1]}")
    manifest = dataclasses.replace(run.manifest, max_length=opts.max_length).with_step(
        run.step, **run.details, best_epoch=state.best_epoch, history=state.history, metrics=metrics, warnings=warnings,
        metrics_precision="bf16" if bf16 else "fp32", train_seconds=round(state.train_seconds, 1),
        train_examples=len(run.train_examples), parameters=count_parameters(run.model))
    save_leanformer_model(run.model, run.tokenizer, manifest, run.output_dir)
    shutil.rmtree(work, ignore_errors=True)
    info(f"saved {run.output_dir} (best epoch {state.best_epoch}): " +
         "; ".join(f"{s} " + ", ".join(f"{k} {v:.4f}" for k, v in m.items()) for s, m in metrics.items()))
    return {"output_dir": str(run.output_dir), "best_epoch": state.best_epoch, "metrics": metrics,
            "train_seconds": round(state.train_seconds, 1), "history": state.history, "warnings": warnings}
