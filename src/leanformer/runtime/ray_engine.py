"""Scale-out on Ray (``predict --engine ray``): Ray Data over an actor pool of Predictors.

Ray is an optional extra (``pip install leanformer[ray]``); local Ray by default, a cluster with an
address. Each actor loads the model once and scores whole batches, formed as the local runtime forms
them; batches carry their positions, so the logits come back in input order however they were spread.
"""

from __future__ import annotations

import os

import numpy as np

from leanformer.runtime.predictor import Inputs, Predictor, PredictorConfig
from leanformer.utils.extras import import_extra


def import_ray():
    return import_extra("ray", "Ray", "the ray engine")


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
    """One Ray actor: a Predictor that scores one batch per row."""

    def __init__(self, config: PredictorConfig):
        self.predictor = Predictor(config)

    def __call__(self, row: dict) -> dict:
        return {"position": row["position"], "logits": self.predictor.run_examples(list(row["examples"]))}


def ray_logits(config: PredictorConfig, examples: list, actors: int, batch_size: int, address: str | None = None,
               progress=None) -> np.ndarray:
    """Logits of every example, in input order, computed by ``actors`` Ray actors."""
    ray = connect(address)
    # one row per batch, formed as the local runtime forms them: Ray Data would otherwise cut batches at its
    # block boundaries, and int8 models would answer differently from the local runtime
    batches = Inputs(config).example_batches(examples, batch_size)
    dataset = ray.data.from_items([{"position": idx, "examples": [examples[i] for i in idx]} for idx in batches])
    scored = dataset.map(_Scorer, fn_constructor_args=(config,), concurrency=actors, num_cpus=config.threads or 1)
    logits: np.ndarray | None = None
    for row in scored.iter_rows():
        if logits is None:
            logits = np.empty((len(examples), *row["logits"].shape[1:]), dtype=row["logits"].dtype)
        logits[row["position"]] = row["logits"]
        if progress is not None:
            progress(len(row["position"]))
    return logits
