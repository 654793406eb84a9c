"""Building a student: a pretrained checkpoint, or the teacher itself, optionally cut down.

(a) any pretrained checkpoint, even of another family with its own tokenizer;
(b) the teacher with a subset of its layers (DistilBERT's initialisation);
either with the FFN activation swapped to ReLU (FastFormers: bias+ReLU fuses cheaply).
"""

from __future__ import annotations

import dataclasses

from leanformer.models import Manifest, load_for_task, load_model
from leanformer.models.anatomy import keep_layers, set_activation
from leanformer.tasks import Task


def build_student(task: Task, teacher_dir: str, student: str | None, layers: list[int] | None, relu: bool):
    """Return ``(model, tokenizer, manifest)``; the manifest is the one whose lineage the student extends."""
    if student is None:
        model, tokenizer, manifest = load_model(teacher_dir)  # a fresh copy; the teacher object stays intact
    else:
        model, tokenizer, manifest = load_for_task(student, task.label_names, task.multiple_choice)
    if layers is not None:
        keep_layers(model, layers)
        if manifest is not None and manifest.structure is not None:
            manifest = dataclasses.replace(manifest, structure=manifest.structure.keep_layers(layers))
    if relu:
        set_activation(model, "relu")
    return model, tokenizer, manifest


def fresh_manifest(task: Task) -> Manifest:
    return Manifest(task=task.config.to_dict(), label_names=task.label_names, multiple_choice=task.multiple_choice)
