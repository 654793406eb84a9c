"""The things a benchmark row measures: a model plus how it is run.

Every system answers the same two questions on the same tokenised inputs: logits for an accuracy
pass (batched, in input order), and one timed pass at batch size 1, single queries as a service
would see them.
"""

from __future__ import annotations

import numpy as np

from leanformer.runtime.multi_instance import MultiInstancePredictor
from leanformer.runtime.predictor import Predictor

ACCURACY_BATCH = 32


class System:
    """A predictor (single process or a pool of pinned workers) and the cores it occupies."""

    def __init__(self, model_dir: str, threads: int | None = None, instances: int = 1, fixed_length: int | None = None,
                 max_length: int | None = None, torch_int8: bool = False):
        if instances > 1:
            self.runner = MultiInstancePredictor(model_dir, instances, threads=threads or 1, batch_size=1,
                                                 sort_by_length=False, max_length=max_length)
        else:
            self.runner = Predictor(model_dir, threads=threads, batch_size=1, sort_by_length=False,
                                    max_length=max_length, fixed_length=fixed_length, torch_int8=torch_int8)
        self.instances = instances

    def features(self, examples: list) -> list:
        return self.runner.inputs.features(examples)

    def logits(self, features: list, progress=None) -> np.ndarray:
        """The accuracy pass: length-sorted batches (the timed pass uses the configured single queries)."""
        return self.runner.run_features(features, progress, batch_size=ACCURACY_BATCH, sort_by_length=True)

    def timed_pass(self, features: list) -> np.ndarray:
        return self.runner.run_features(features)

    @property
    def worker_pids(self) -> list[int]:
        return [w.pid for w in self.runner.workers] if isinstance(self.runner, MultiInstancePredictor) else []

    def close(self) -> None:
        if isinstance(self.runner, MultiInstancePredictor):
            self.runner.close()
