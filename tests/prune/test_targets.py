import pytest

from leanformer.errors import LeanformerError
from leanformer.prune.targets import Shape, schedule


def test_schedule_shrinks_each_given_dimension_linearly_to_the_target():
    plan = schedule(Shape(12, 3072, 768, 12), Shape(None, 1536, 384, 6), 2)
    assert plan == [Shape(None, 2304, 576, 9), Shape(None, 1536, 384, 6)]
    assert schedule(Shape(12, 3072, 768, 12), Shape(6), 1) == [Shape(6)]
    with pytest.raises(LeanformerError, match="steps must be at least 1"):
        schedule(Shape(), Shape(), 0)
