"""The same API as a Ray Serve deployment (``serve --engine ray``): replicas across a cluster, autoscaling.

Each replica holds one Predictor; Ray Serve's own batching groups concurrent requests into one
model call; validation, limits and the response body are the plain server's.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from leanformer.errors import LeanformerError
from leanformer.models import Manifest
from leanformer.runtime.predictor import Predictor, PredictorConfig
from leanformer.runtime.ray_engine import connect
from leanformer.serve.config import ServeConfig
from leanformer.serve.server import PredictRequest, as_predictions, check_limits

APP_NAME = "leanformer"


class LeanformerReplica:
    def __init__(self, cfg: ServeConfig):
        self.cfg = cfg
        self.manifest = Manifest.read(cfg.model)
        self.model_id = Path(cfg.model).resolve().name
        self.predictor = Predictor(PredictorConfig(model=cfg.model, threads=cfg.threads or 1,
                                                   batch_size=cfg.model_batch_size, max_length=cfg.max_length))
        self.score.set_max_batch_size(cfg.max_batch_size)
        self.score.set_batch_wait_timeout_s(cfg.max_wait_ms / 1000)

    async def score(self, requests: list[list]) -> list[np.ndarray]:
        features = [f for r in requests for f in r]
        logits = self.predictor.run_features(features)
        bounds = np.cumsum([0, *(len(r) for r in requests)])
        return [logits[a:b] for a, b in zip(bounds, bounds[1:])]

    async def __call__(self, request):
        from pydantic import ValidationError
        from starlette.responses import JSONResponse

        def error(status: int, kind: str, message: str):
            return JSONResponse({"error": {"kind": kind, "message": message}}, status_code=status)

        if request.url.path.rstrip("/") in ("/health", "/ready"):
            return JSONResponse({"status": "ready" if request.url.path.startswith("/ready") else "alive"})
        if request.method != "POST" or request.url.path.rstrip("/") != "/v1/predict":
            return error(404, "not_found", f"{request.method} {request.url.path}: use POST /v1/predict")
        raw = await request.body()
        if len(raw) > self.cfg.max_body_bytes:
            return error(413, "body_too_large", f"the body may hold at most {self.cfg.max_body_bytes} bytes")
        try:
            body = PredictRequest.model_validate_json(raw)
        except ValidationError as e:
            return error(422, "invalid_request", "; ".join(f"{'.'.join(map(str, x['loc'])) or 'body'}: {x['msg']}"
                                                           for x in e.errors()[:5]))
        problem = check_limits(body.inputs, self.cfg)
        if problem:
            return error(*problem)
        features = self.predictor.inputs.features([x if isinstance(x, str) else tuple(x) for x in body.inputs])
        return JSONResponse(as_predictions(await self.score(features), self.manifest, self.model_id))


def deployment(cfg: ServeConfig):
    """The bound Ray Serve application for ``cfg`` (replicas or autoscaling as configured)."""
    from ray import serve

    cls = type("LeanformerReplica", (LeanformerReplica,), {"score": serve.batch(LeanformerReplica.score)})
    options = {"ray_actor_options": {"num_cpus": cfg.threads or 1}}
    if cfg.max_replicas:
        options["autoscaling_config"] = {"min_replicas": cfg.replicas, "max_replicas": cfg.max_replicas}
    else:
        options["num_replicas"] = cfg.replicas
    return serve.deployment(cls, name="leanformer", **options).bind(cfg)


def run_ray(cfg: ServeConfig, block: bool = True) -> None:
    """Start the deployment behind Ray Serve's HTTP proxy on ``cfg.host:cfg.port``; with ``block``, until Ctrl-C
    or SIGTERM, then shut it down."""
    connect(cfg.ray_address)
    from ray import serve

    if Manifest.read(cfg.model) is None:
        raise LeanformerError(f"{cfg.model}: not a leanformer model (no leanformer.json)")
    serve.start(http_options={"host": cfg.host, "port": cfg.port})
    serve.run(deployment(cfg), name=APP_NAME, route_prefix="/")
    if not block:
        return
    import signal

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        serve.shutdown()
