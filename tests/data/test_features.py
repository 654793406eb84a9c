import numpy as np

from leanformer.tasks.base import Example
from leanformer.data.features import collate, encode, length_grouped_batches, lengths, sorted_batches
from tests.conftest import VOCAB

from transformers import BertTokenizerFast


def tokenizer():
    return BertTokenizerFast(vocab={w: i for i, w in enumerate(VOCAB)})


def test_encode_pairs_and_truncation():
    ex = [Example("0", (("the cat sat on the mat", "a dog"),)), Example("1", (("the cat " * 50, "a dog"),))]
    feats = encode(ex, tokenizer(), max_length=16)
    assert len(feats) == 2 and len(feats[0]) == 1
    assert len(feats[1][0]["input_ids"]) == 16  # truncated
    assert feats[0][0]["token_type_ids"][-3:] == [1, 1, 1]  # "a dog [SEP]" is the second segment


def test_collate_pads_to_longest_in_batch_and_masks():
    feats = encode([Example("0", (("the cat",None),)), Example("1", (("the cat sat on the mat", None),))], tokenizer(), 32)
    batch = collate(feats, pad_id=0, multiple_choice=False)
    assert batch["input_ids"].shape == (2, 8)
    assert batch["attention_mask"].sum(1).tolist() == [4, 8]
    assert batch["input_ids"][0, 4:].tolist() == [0, 0, 0, 0]


def test_collate_multiple_choice_shape():
    ex = [Example("0", (("the cat", "sat"), ("the cat", "ran on the mat")))]
    batch = collate(encode(ex, tokenizer(), 32), pad_id=0, multiple_choice=True)
    assert batch["input_ids"].shape == (1, 2, 9)
    assert batch["attention_mask"][0].sum(1).tolist() == [6, 9]  # [CLS] the cat [SEP] sat [SEP]


def test_length_grouped_batches_cover_everything_once_and_are_deterministic():
    lens = np.random.default_rng(0).integers(5, 100, size=1003)
    a = length_grouped_batches(lens, 16, seed=1, epoch=0, group=4)
    b = length_grouped_batches(lens, 16, seed=1, epoch=0, group=4)
    c = length_grouped_batches(lens, 16, seed=1, epoch=1, group=4)
    assert sorted(np.concatenate(a).tolist()) == list(range(1003))
    assert all((x == y).all() for x, y in zip(a, b))
    assert not all(len(x) == len(y) and (x == y).all() for x, y in zip(a, c))
    # grouping keeps padding low: average within-batch spread far below the global spread
    spread = np.mean([lens[x].max() - lens[x].min() for x in a])
    assert spread < 0.25 * (lens.max() - lens.min())


def test_sorted_batches_longest_first():
    lens = np.array([3, 9, 1, 7])
    assert [b.tolist() for b in sorted_batches(lens, 2)] == [[1, 3], [0, 2]]
    assert lengths([[{"input_ids": [1, 2]}, {"input_ids": [1, 2, 3]}]]).tolist() == [3]
