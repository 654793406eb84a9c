"""Sentence polarity: is this movie-review sentence positive or negative?"""

from __future__ import annotations

from leanformer.data.polarity import LABELS, polarity_dir
from leanformer.data.readers import require
from leanformer.tasks.prepared import PreparedTask


class Polarity(PreparedTask):
    name = "polarity"
    labels = tuple(LABELS.values())
    prepare = staticmethod(polarity_dir)

    def texts(self, record, path, line):
        return require(record, "text", path, line), None
