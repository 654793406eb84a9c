"""Transfer data for distillation: perturbed copies of the training examples, labelled by the teacher.

A student learns the teacher's function from the teacher's answers, and the task's own examples are
only a few points of that function. Word-level perturbations (Tang et al., 2019; TinyBERT's data
augmentation, simplified) give more points near the data: each word is, with small probability,
replaced by a word drawn from the training corpus's own word frequencies, or dropped. The copies keep
no gold label; the teacher's soft targets (and its argmax, for the hard-label loss) stand in for it.
Working on words keeps the copies independent of either model's tokenizer.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np

from leanformer.errors import LeanformerError
from leanformer.tasks import Example


def perturbed_copies(examples: list[Example], copies: int, seed: int, replace_prob: float = 0.1,
                     drop_prob: float = 0.1) -> list[Example]:
    """``copies`` perturbed versions of every example, in order, without labels."""
    if copies < 0 or not 0 <= replace_prob + drop_prob <= 1:
        raise LeanformerError("augmentation needs copies >= 0 and replace + drop probabilities in [0, 1]")
    corpus = [w for ex in examples for pair in ex.pairs for text in pair if text for w in text.split()]
    if copies and not corpus:
        raise LeanformerError("augmentation needs training examples with text")
    rng = random.Random(seed)

    def perturb(text: str | None) -> str | None:
        if not text:
            return text
        out = []
        for word in text.split():
            r = rng.random()
            if r < replace_prob:
                out.append(rng.choice(corpus))  # a draw from the corpus follows its word frequencies
            elif r >= replace_prob + drop_prob:
                out.append(word)
        return " ".join(out) or text

    return [dataclasses.replace(ex, uid=f"{ex.uid}#aug{k}", label=None,
                                pairs=tuple((perturb(a), perturb(b)) for a, b in ex.pairs))
            for k in range(1, copies + 1) for ex in examples]


def teacher_labelled(examples: list[Example], logits: np.ndarray) -> list[Example]:
    """The examples with the teacher's argmax as their label (for the hard-label part of the loss)."""
    return [dataclasses.replace(ex, label=int(row.argmax())) for ex, row in zip(examples, logits)]
