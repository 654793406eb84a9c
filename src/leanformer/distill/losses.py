"""Distillation objectives: soft targets from the teacher, optionally its hidden states and attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_target_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) on temperature-softened distributions, times T^2 (Hinton et al.).

    Same gradient as the soft cross-entropy, but exactly zero when the student matches the teacher.
    """
    t = temperature
    return F.kl_div(F.log_softmax(student_logits.float() / t, -1), F.log_softmax(teacher_logits.float() / t, -1),
                    log_target=True, reduction="batchmean") * (t * t)


def uniform_layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    """Teacher layer (1-based hidden-state index) for each student layer: evenly spaced, last to last."""
    return [round((i + 1) * teacher_layers / student_layers) for i in range(student_layers)]


def hidden_state_loss(student_hidden, teacher_hidden, layer_map: list[int], mask: torch.Tensor,
                      projection: torch.nn.Module | None, teacher_channels: torch.Tensor | None = None) -> torch.Tensor:
    """MSE between mapped hidden states over real (unpadded) tokens; embeddings are matched too.

    A student narrower than its teacher is matched through a learned ``projection``, or, when it was cut
    from the teacher, on the teacher's ``teacher_channels`` it kept.
    """
    pairs = [(0, 0)] + [(i + 1, t) for i, t in enumerate(layer_map)]
    m = mask.unsqueeze(-1).float()
    total = 0.0
    for s, t in pairs:
        hs = student_hidden[s].float()
        if projection is not None:
            hs = projection(hs)
        ht = teacher_hidden[t].float()
        if teacher_channels is not None:
            ht = ht.index_select(-1, teacher_channels)
        total = total + (((hs - ht) ** 2) * m).sum() / (m.sum() * hs.shape[-1])
    return total / len(pairs)


def attention_loss(student_attn, teacher_attn, layer_map: list[int], mask: torch.Tensor) -> torch.Tensor:
    """MSE between mapped attention maps (head-averaged when head counts differ), over real query rows."""
    m = mask[:, None, :, None].float()
    total = 0.0
    for i, t in enumerate(layer_map):
        a, b = student_attn[i].float(), teacher_attn[t - 1].float()
        if a.shape[1] != b.shape[1]:
            a, b = a.mean(1, keepdim=True), b.mean(1, keepdim=True)
        total = total + (((a - b) ** 2) * m).sum() / (m.sum() * a.shape[1] * a.shape[-1])
    return total / len(layer_map)
