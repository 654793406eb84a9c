import pytest

from leanformer.tasks import metrics as M


def test_normalize_answer_follows_squad():
    assert M.normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert M.normalize_answer("a Cat and an owl") == "cat and owl"


def test_token_f1_partial_overlap():
    # prediction tokens: barack, obama; gold: obama -> precision 1/2, recall 1
    assert M.token_f1("Barack Obama", "Obama") == pytest.approx(2 / 3)
    assert M.token_f1("Paris", "London") == 0.0
    assert M.max_over_answers(M.exact_match, "the Paris", ["London", "Paris"]) == 1.0


def test_binary_and_macro_f1():
    assert M.f1_binary([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(0.5)
    assert M.f1_binary([0, 0], [0, 0]) == 0.0  # no positives anywhere
    assert M.macro_f1([0, 1, 2], [0, 1, 1], 3) == pytest.approx((1 + 2 / 3 + 0) / 3)
