"""Logits of a PyTorch model over tokenised examples: what training, distillation and evaluation score with."""

from __future__ import annotations

import numpy as np
import torch

from leanformer.data.features import collate, lengths, run_batches, sorted_batches
from leanformer.utils.device import autocast, device_of, to_device
from leanformer.utils.progress import ProgressBar


@torch.inference_mode()
def predict_logits(model, features: list[list[dict]], pad_id: int, multiple_choice: bool,
                   batch_size: int = 64, bf16: bool = False, description: str = "predict",
                   show_progress: bool = True) -> np.ndarray:
    """Logits for every example, in input order; batches are length-sorted to avoid padding."""
    model.eval()
    device = device_of(model)

    def run(batch: list[list[dict]]) -> np.ndarray:
        with autocast(bf16, device):
            return model(**to_device(collate(batch, pad_id, multiple_choice), device)).logits.float().cpu().numpy()

    with ProgressBar(len(features), description, enabled=show_progress) as bar:
        return run_batches(features, sorted_batches(lengths(features), batch_size), run, bar.advance)
