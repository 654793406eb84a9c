"""Scale-out on Ray (``predict --engine ray``): Ray Data over an actor pool of Predictors.

Ray is an optional extra (``pip install leanformer[ray]``); local Ray by default, a cluster with an
address. Each actor loads the model once and scores whole batches; rows carry their position, so
the logits come back in input order however the batches were spread.
"""

from __future__ import annotations

import os

import numpy as np

from leanformer.errors import LeanformerError
from leanformer.runtime.predictor import Predictor, PredictorConfig


def import_ray():
    try:
        import ray
    except ImportError:
        raise LeanformerError("the ray engine needs Ray: pip install 'leanformer[ray]'") from None
    return ray


#: Ray Serve kills an HTTP proxy not ready within 5 s and retries; a worker process takes longer than that to
#: start on a small busy machine, so serve.start failed there. Leanformer's own Ray allows a minute.
RAY_ENVIRONMENT = {"RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "60"}


def connect(address: str | None = None, num_cpus: int | None = None):
    """Local Ray (a fresh one when none runs), or the cluster at ``address``."""
    ray = import_ray()
    if not ray.is_initialized():
        for name, value in RAY_ENVIRONMENT.items():
            os.environ.setdefault(name, value)  # read by the processes Ray starts
        ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    return ray


class _Scorer:
    """One Ray actor: a Predictor that scores whole batches of rows."""

    def __init__(self, config: PredictorConfig):
        self.predictor = Predictor(config)

    def __call__(self, batch: dict) -> dict:
        return {"position": batch["position"], "logits": self.predictor.logits(list(batch["example"]))}


def ray_logits(config: PredictorConfig, examples: list, actors: int, batch_size: int, address: str | None = None,
               progress=None) -> np.ndarray:
    """Logits of every example, in input order, computed by ``actors`` Ray actors."""
    ray = connect(address)
    dataset = ray.data.from_items([{"position": i, "example": ex} for i, ex in enumerate(examples)])
    scored = dataset.map_batches(_Scorer, fn_constructor_args=(config,), batch_size=batch_size, concurrency=actors,
                                 num_cpus=config.threads or 1, batch_format="numpy")
    logits: np.ndarray | None = None
    for batch in scored.iter_batches(batch_size=batch_size, batch_format="numpy"):
        if logits is None:
            logits = np.empty((len(examples), *batch["logits"].shape[1:]), dtype=batch["logits"].dtype)
        logits[batch["position"]] = batch["logits"]
        if progress is not None:
            progress(len(batch["position"]))
    return logits
