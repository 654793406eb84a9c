"""Task-specific knowledge distillation (``leanformer distill``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from leanformer.data.features import encode
from leanformer.distill.augment import perturbed_copies, teacher_labelled
from leanformer.distill.internals_cache import TeacherInternals, teacher_internals
from leanformer.distill.losses import attention_loss, hidden_state_loss, soft_target_loss, uniform_layer_map
from leanformer.distill.students import build_student, fresh_manifest
from leanformer.distill.teacher_cache import TeacherLogits, example_key, model_fingerprint
from leanformer.errors import LeanformerError
from leanformer.models import Manifest, load_model
from leanformer.models.anatomy import base_model, block_parts, hidden_width, keep_layers
from leanformer.models.manifest import Structure
from leanformer.tasks import task_for
from leanformer.training.loop import Run, begin, fit
from leanformer.training.options import TrainOptions
from leanformer.utils.config import int_list, option
from leanformer.utils.device import resolve_device
from leanformer.utils.paths import check_output


CACHE_INTERNALS_HELP = ("With the intermediate losses: keep what they read of the teacher (float16, under the "
                        "cache dir) after one pass instead of running its encoder on every batch; for runs of "
                        "several epochs on a CPU (about 0.4 MB per example at 384 channels and 60 tokens).")


@dataclass(kw_only=True)
class DistillConfig(TrainOptions):
    teacher: str = option(help="Fine-tuned leanformer model directory; the task comes from its manifest.")
    output_dir: str = option(help="Directory to write the student to.", flags=("--output", "-o"))
    student: str | None = option(None, "Pretrained checkpoint to start from (built-in name, directory, hub id); "
                                       "default: the teacher itself.")
    student_layers: list[int] | None = option(None, "Keep only these student layers, 0-based, e.g. 0,2,4 "
                                                    "(DistilBERT-style initialisation).", parse=int_list)
    relu: bool = option(False, "Swap the student's FFN activation from GELU to ReLU.", flags=("--relu",))
    temperature: float = option(2.0, "Softmax temperature of the soft targets.")
    alpha: float = option(0.0, "Weight of the hard-label loss (soft targets get 1 - alpha).")
    hidden_weight: float = option(0.0, "Weight of the hidden-state MSE (TinyBERT; needs the teacher's tokenizer).")
    attention_weight: float = option(0.0, "Weight of the attention-map MSE (TinyBERT; needs the teacher's "
                                          "tokenizer).")
    layer_map: list[int] | None = option(None, "Teacher layer (1-based) for each student layer, e.g. 4,8,12; "
                                               "default evenly spaced.", parse=int_list)
    augment: int = option(0, "Add this many word-perturbed copies of each training example, labelled by the "
                             "teacher.")
    data_dir: str | None = option(None, "Read the task's data from here instead of where the teacher's manifest "
                                        "says.")
    cache_internals: bool = option(False, CACHE_INTERNALS_HELP, flags=("--cache-internals",))
    learning_rate: float = 1e-4


class DistillationLoss:
    """``(1 - alpha) * soft targets + alpha * hard labels [+ hidden-state MSE] [+ attention MSE]``.

    Soft targets come from cached teacher logits; the intermediate losses run ``teacher_trunk`` (the
    teacher's encoder, up to the deepest layer they read) on the student's own batch, which is why they
    need a shared tokenizer.
    """

    def __init__(self, cfg: DistillConfig, teacher_logits: torch.Tensor, teacher_trunk: torch.nn.Module | None,
                 layer_map: list[int], projection: torch.nn.Module | None, channels: torch.Tensor | None = None,
                 internals: TeacherInternals | None = None):
        self.cfg, self.teacher_logits, self.teacher_trunk = cfg, teacher_logits, teacher_trunk
        self.layer_map, self.projection, self.channels, self.internals = layer_map, projection, channels, internals

    def __call__(self, model, inputs, idx, labels) -> torch.Tensor:
        cfg = self.cfg
        hidden, attention = cfg.hidden_weight > 0, cfg.attention_weight > 0
        out = model(**inputs, output_hidden_states=hidden, output_attentions=attention)
        mask = inputs["attention_mask"].reshape(-1, inputs["attention_mask"].shape[-1])
        channels = self.channels
        if self.internals is not None:  # already on the kept channels
            t_hidden, t_attention = self.internals.batch(idx, mask.shape[-1], mask.device)
            channels = None
            if not np.array_equal(self.internals.lengths[idx], mask.sum(-1).cpu().numpy()):
                raise LeanformerError("the cached teacher internals were tokenised otherwise than this batch")
        elif self.teacher_trunk is not None:
            with torch.no_grad():
                t_out = self.teacher_trunk(**inputs, output_hidden_states=hidden, output_attentions=attention)
            t_hidden, t_attention = t_out.hidden_states, t_out.attentions
        t_logits = self.teacher_logits[torch.as_tensor(idx)]
        loss = (1 - cfg.alpha) * soft_target_loss(out.logits, t_logits, cfg.temperature)
        if cfg.alpha > 0:
            loss = loss + cfg.alpha * F.cross_entropy(out.logits.float(), labels)
        if hidden:
            loss = loss + cfg.hidden_weight * hidden_state_loss(out.hidden_states, t_hidden, self.layer_map,
                                                                mask, self.projection, channels)
        if attention:
            loss = loss + cfg.attention_weight * attention_loss(out.attentions, t_attention, self.layer_map, mask)
        return loss


def teacher_trunk(teacher: torch.nn.Module, layer_map: list[int]) -> torch.nn.Module:
    """The teacher's encoder cut, in place, after the deepest layer ``layer_map`` reads: with soft targets from
    the logits cache, the layers above it and the classifier need not run on every batch (a 6-layer student
    cut from layers up to 8 of 12 spares a third of the teacher's forward pass). In place: take it once the
    logits cache has every logit the run needs."""
    keep_layers(teacher, list(range(max(layer_map))))
    return base_model(teacher).eval().requires_grad_(False)


def _cached_internals(cfg: DistillConfig, trunk, student, teacher, tokenizer, examples, layer_map: list[int],
                      channels: torch.Tensor | None, bf16: bool, multiple_choice: bool) -> TeacherInternals:
    """What the intermediate losses read of ``trunk``, for every training example, from the internals cache."""
    if multiple_choice:
        raise LeanformerError("--cache-internals: not for multiple-choice tasks (the teacher runs on every batch "
                              "without it)")
    s_parts, t_parts = block_parts(student), block_parts(teacher)
    heads = [] if cfg.attention_weight == 0 else [
        t_parts[t - 1].num_heads if s_parts[i].num_heads == t_parts[t - 1].num_heads else 1
        for i, t in enumerate(layer_map)]
    keys = hashlib.sha1(b"".join(example_key(ex) for ex in examples)).hexdigest()
    identity = {"teacher": model_fingerprint(cfg.teacher), "max_length": cfg.max_length, "bf16": bf16,
                "examples": keys}
    width = len(channels) if channels is not None else hidden_width(teacher)
    return teacher_internals(trunk, encode(examples, tokenizer, cfg.max_length), tokenizer.pad_token_id, layer_map,
                             channels, width, heads, bf16, identity, cfg.eval_batch_size, cfg.show_progress)


def _cut_from_teacher(student: Manifest | None, teacher: Manifest, s_model, t_model) -> Structure | None:
    """The student's structure when it was pruned out of this (unpruned) teacher's shapes: its kept layers and
    channels then index the teacher's, and the intermediate losses compare like with like."""
    cut = student.structure if student is not None else None
    if cut is None or teacher.structure is not None or s_model.config.hidden_size != t_model.config.hidden_size:
        return None
    if cut.layers and max(cut.layers) >= t_model.config.num_hidden_layers:
        return None
    return cut


def _check(cfg: DistillConfig) -> None:
    if cfg.temperature <= 0 or not 0 <= cfg.alpha <= 1 or cfg.hidden_weight < 0 or cfg.attention_weight < 0:
        raise LeanformerError("temperature must be positive, alpha in [0, 1], and loss weights non-negative")
    if cfg.augment < 0:
        raise LeanformerError(f"augment must be a number of copies >= 0, got {cfg.augment}")
    if cfg.cache_internals and not (cfg.hidden_weight > 0 or cfg.attention_weight > 0):
        raise LeanformerError("--cache-internals keeps what the intermediate losses read of the teacher: give "
                              "--hidden-weight or --attention-weight too")


def distill(cfg: DistillConfig) -> dict:
    """Train a student on the teacher's task against the teacher's outputs; returns metrics and location."""
    _check(cfg)
    bf16 = begin(cfg)
    check_output(cfg.output_dir, [cfg.teacher, cfg.student, cfg.data_dir], cfg.overwrite)
    device = resolve_device(cfg.device)
    teacher, t_tok, t_manifest = load_model(cfg.teacher)
    teacher.to(device)
    cfg = replace(cfg, max_length=t_manifest.input_length(cfg.max_length))  # the student reads what the teacher read
    task = task_for(t_manifest.task, cfg.data_dir)
    train_examples = task.read_for_training(cfg.train_limit, cfg.seed)
    student, s_tok, base_manifest = build_student(task, cfg.teacher, cfg.student, cfg.student_layers, cfg.relu)
    student.to(device)
    manifest = base_manifest or fresh_manifest(task)

    internals = cfg.hidden_weight > 0 or cfg.attention_weight > 0
    # cached teacher logits: the soft targets, and the argmax that labels the perturbed copies (for the
    # hard-label loss); computed once, shared by every student of this teacher
    cache = TeacherLogits(teacher, t_tok, cfg.teacher, cfg.max_length, task.multiple_choice, bf16,
                          cfg.eval_batch_size, cfg.show_progress)
    extra = perturbed_copies(train_examples, cfg.augment, cfg.seed)
    if extra:
        train_examples = train_examples + teacher_labelled(extra, cache.get(extra))
    teacher_logits = torch.from_numpy(cache.get(train_examples)).to(device)
    layer_map, projection, channels, trunk, cached = [], None, None, None, None
    if internals:  # the teacher's encoder runs on every batch, up to the deepest layer the losses read
        if t_tok.get_vocab() != s_tok.get_vocab():
            raise LeanformerError("hidden-state and attention losses need the student to use the teacher's tokenizer; "
                                  "use soft targets only (the default) for a student of another family")
        n_s, n_t = student.config.num_hidden_layers, teacher.config.num_hidden_layers
        cut = _cut_from_teacher(base_manifest, t_manifest, student, teacher)
        channels = torch.tensor(cut.hidden, device=device) if cut and cut.hidden else None
        layer_map = cfg.layer_map or ([i + 1 for i in cut.layers] if cut and cut.layers else
                                      uniform_layer_map(n_s, n_t))
        if len(layer_map) != n_s or any(not 1 <= t <= n_t for t in layer_map):
            raise LeanformerError(f"layer map needs one teacher layer in 1..{n_t} per student layer ({n_s}), got {layer_map}")
        if cfg.attention_weight > 0:
            student.set_attn_implementation("eager")
            teacher.set_attn_implementation("eager")
        if channels is None and hidden_width(student) != hidden_width(teacher):
            projection = torch.nn.Linear(hidden_width(student), hidden_width(teacher))
        trunk = teacher_trunk(teacher, layer_map)
        if cfg.cache_internals:
            cached = _cached_internals(cfg, trunk, student, teacher, s_tok, train_examples, layer_map, channels, bf16,
                                       task.multiple_choice)
            trunk = None  # the cache replaces it

    details = {"teacher": str(cfg.teacher), "teacher_metrics": t_manifest.metrics, "student": cfg.student or "teacher",
               "student_layers": cfg.student_layers, "relu": cfg.relu, "teacher_logits_computed": cache.computed,
               "teacher_layers_run": max(layer_map) if layer_map else 0,
               "augmented_examples": len(extra),
               "loss": {"temperature": cfg.temperature, "alpha": cfg.alpha, "hidden_weight": cfg.hidden_weight,
                        "attention_weight": cfg.attention_weight, "layer_map": layer_map or None},
               "config": cfg.to_dict()}
    loss = DistillationLoss(cfg, teacher_logits, trunk, layer_map, projection, channels, cached)
    return fit(Run(model=student, tokenizer=s_tok, task=task, train_examples=train_examples, options=cfg,
                   output_dir=cfg.output_dir, loss=loss, manifest=manifest, step="distill", details=details,
                   extra=projection))
