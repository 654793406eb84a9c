"""VitaminC: does the Wikipedia evidence support, refute, or not decide the claim?"""

from __future__ import annotations

from leanformer.data.readers import require
from leanformer.data.vitaminc import LABELS, vitaminc_dir
from leanformer.tasks.prepared import PreparedTask


class VitaminC(PreparedTask):
    name = "vitaminc"
    labels = tuple(LABELS.values())
    prepare = staticmethod(vitaminc_dir)

    def texts(self, record, path, line):
        return require(record, "evidence", path, line), require(record, "claim", path, line)
