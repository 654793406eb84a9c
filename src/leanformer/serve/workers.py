"""Worker slots: one pinned inference process each, restarted when it dies.

Each slot is its own single-instance pool on its own cores, so a worker that dies fails only the
micro-batch it held; the slot starts a fresh process before it takes the next one.
"""

from __future__ import annotations

import threading

import numpy as np

from leanformer.errors import LeanformerError
from leanformer.models import Manifest
from leanformer.runtime.multi_instance import MultiInstancePredictor, core_groups
from leanformer.runtime.predictor import PredictorConfig
from leanformer.serve.config import ServeConfig
from leanformer.utils.cpu import physical_cores


class WorkerDied(LeanformerError):
    """The worker holding a micro-batch died; the batch's requests fail, the slot restarts."""


class Slot:
    def __init__(self, config: PredictorConfig, cpus: list[int], start_timeout: float):
        self.config, self.cpus, self.start_timeout = config, cpus, start_timeout
        self.restarts = 0
        self._lock = threading.Lock()
        self.pool = self._start()

    def _start(self) -> MultiInstancePredictor:
        return MultiInstancePredictor(self.config, 1, start_timeout=self.start_timeout, cpus=[self.cpus])

    def run(self, inputs: list, batch_size: int) -> np.ndarray:
        """Logits for one micro-batch of texts or pairs, tokenised by the worker and length-sorted inside the
        micro-batch; a dead worker is replaced before the next."""
        with self._lock:
            if self.pool.failure is not None:
                self.restart()
            try:
                return self.pool.logits(inputs, batch_size=batch_size)
            except LeanformerError as e:
                if self.pool.failure is None:
                    raise
                self.restart()
                raise WorkerDied(f"the inference worker died while answering ({e}); it was restarted") from None

    def restart(self) -> None:
        self.pool.close(failed=True)
        self.pool = self._start()
        self.restarts += 1

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self.pool.workers]

    def close(self) -> None:
        self.pool.close()


def start_slots(cfg: ServeConfig) -> list[Slot]:
    """Slots on disjoint physical cores: as many as asked, as tuned, or one per core."""
    manifest = Manifest.read(cfg.model)
    tuned = manifest.tuned if manifest else None
    instances = cfg.instances or (tuned.instances if tuned else physical_cores())
    threads = cfg.threads or (tuned.threads if tuned else 1)
    config = PredictorConfig(model=cfg.model, threads=threads, max_length=cfg.max_length)
    slots: list[Slot] = []
    try:
        for cpus in core_groups(instances, threads):
            slots.append(Slot(config, cpus, cfg.start_timeout))
    except BaseException:
        for slot in slots:
            slot.close()
        raise
    return slots
