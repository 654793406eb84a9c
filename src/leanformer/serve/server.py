"""The HTTP API (FastAPI on uvicorn): ``POST /v1/predict``, ``/health``, ``/ready``, ``/metrics``.

Validation and limits answer at once with a JSON error body; a full queue answers 503 with
Retry-After instead of making clients wait; SIGTERM stops accepting, finishes what was accepted,
stops the workers and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from leanformer.errors import LeanformerError
from leanformer.models import Manifest
from leanformer.runtime.predictor import labelled
from leanformer.serve.batcher import MicroBatcher, Overloaded
from leanformer.serve.config import ServeConfig
from leanformer.serve.metrics import Metrics
from leanformer.serve.workers import WorkerDied, start_slots

access_log = logging.getLogger("leanformer.access")
RETRY_AFTER_SECONDS = 1


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: Annotated[list[str | Annotated[list[str], Field(min_length=2, max_length=2)]], Field(min_length=1)] = \
        Field(description="Texts, or [text, text_pair] pairs for pair tasks (entailment, fact verification).")


class Prediction(BaseModel):
    label: str
    probabilities: dict[str, float]


class PredictResponse(BaseModel):
    model: str
    predictions: list[Prediction]


def check_limits(inputs: list, cfg: ServeConfig) -> tuple[int, str, str] | None:
    """(status, kind, message) of the first limit a schema-valid request breaks, or None."""
    if len(inputs) > cfg.max_inputs:
        return 413, "too_many_inputs", f"at most {cfg.max_inputs} inputs per request"
    if len({isinstance(item, str) for item in inputs}) > 1:
        return 422, "invalid_request", "inputs: all single texts or all [text, text_pair] pairs, not both"
    longest = max(len(t) for item in inputs for t in ([item] if isinstance(item, str) else item))
    if longest > cfg.max_chars:
        return 413, "text_too_long", f"a text has {longest} characters; at most {cfg.max_chars}"
    return None


def as_predictions(logits: np.ndarray, manifest: Manifest, model_id: str) -> dict:
    """The response body: each input's label and its probabilities by class name."""
    names = [str(i) for i in range(logits.shape[-1])] if manifest.multiple_choice else manifest.label_names
    return {"model": model_id, "predictions": [
        {"label": p["label"], "probabilities": dict(zip(names, p["probabilities"]))}
        for p in labelled(np.asarray(logits), manifest)]}


def _error(status: int, kind: str, message: str, metrics: Metrics | None = None, **headers) -> JSONResponse:
    if metrics is not None:
        metrics.errors.labels(kind).inc()
    return JSONResponse({"error": {"kind": kind, "message": message}}, status_code=status, headers=headers or None)


class LimitsAndAccessLog:
    """Body-size limits before the body is read, the latency histogram and one JSON access-log line per request.

    Plain ASGI rather than ``@app.middleware``: the decorator's per-request task and stream wrapping cost more
    than the rest of a small request's handling.
    """

    def __init__(self, app, cfg: ServeConfig, metrics: Metrics):
        self.app, self.cfg, self.metrics = app, cfg, metrics

    def _refusal(self, scope) -> JSONResponse | None:
        if scope["method"] != "POST":
            return None
        length = dict(scope["headers"]).get(b"content-length")
        if length is None:
            return _error(411, "length_required", "send a Content-Length header", self.metrics)
        if not length.isdigit() or int(length) > self.cfg.max_body_bytes:
            return _error(413, "body_too_large", f"the body may hold at most {self.cfg.max_body_bytes} bytes",
                          self.metrics)
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        refusal = self._refusal(scope)
        await (refusal or self.app)(scope, receive, send_status)
        seconds = time.perf_counter() - start
        if scope["path"] == "/v1/predict":
            self.metrics.latency.labels(str(status[0])).observe(seconds)
        client = scope.get("client")
        access_log.info(json.dumps({"method": scope["method"], "path": scope["path"], "status": status[0],
                                    "ms": round(1000 * seconds, 2), "client": client[0] if client else None}))


def build_app(cfg: ServeConfig) -> FastAPI:
    """The application; workers start with it (lifespan) and stop when it shuts down."""
    manifest = Manifest.read(cfg.model)
    if manifest is None:
        raise LeanformerError(f"{cfg.model}: not a leanformer model (no leanformer.json)")
    metrics = Metrics()
    model_id = Path(cfg.model).resolve().name
    state: dict = {"ready": False}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        slots = await asyncio.to_thread(start_slots, cfg)
        batcher = MicroBatcher(slots, cfg.max_batch_size, cfg.max_wait_ms / 1000, cfg.queue_size,
                               cfg.model_batch_size, metrics)
        batcher.start()
        state.update(ready=True, slots=slots, batcher=batcher)
        try:
            yield
        finally:
            state["ready"] = False
            await batcher.drain()
            for slot in slots:
                await asyncio.to_thread(slot.close)

    app = FastAPI(title="leanformer", lifespan=lifespan, version="1",
                  description=f"Predictions of {model_id} ({manifest.task.get('name')}: "
                              f"{', '.join(manifest.label_names)}).")
    app.state.leanformer = state  # the slots and the batcher, for operators and tests

    app.add_middleware(LimitsAndAccessLog, cfg=cfg, metrics=metrics)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()[:5])
        return _error(422, "invalid_request", where, metrics)

    @app.post("/v1/predict", response_model=PredictResponse,
              responses={413: {"description": "too many inputs or too long a text"},
                         503: {"description": "queue full (Retry-After) or not ready"}})
    async def predict(body: PredictRequest):
        """Label and class probabilities for each input, in order."""
        if not state["ready"]:
            return _error(503, "not_ready", "the workers are not up", metrics, **{"Retry-After": "1"})
        problem = check_limits(body.inputs, cfg)
        if problem:
            return _error(*problem, metrics)
        try:  # the workers tokenise: this process only speaks HTTP and batches
            logits = await state["batcher"].submit([x if isinstance(x, str) else tuple(x) for x in body.inputs])
        except Overloaded as e:
            return _error(503, "overloaded", str(e), metrics, **{"Retry-After": str(RETRY_AFTER_SECONDS)})
        except WorkerDied as e:
            metrics.restarts.set(sum(s.restarts for s in state["slots"]))
            return _error(500, "worker_died", str(e), metrics)
        except LeanformerError as e:
            return _error(500, "inference_failed", str(e), metrics)
        # returned as a response: the body is built here already, FastAPI need not validate it against the model
        return JSONResponse(as_predictions(logits, manifest, model_id))

    @app.get("/health")
    async def health():
        """The process is alive."""
        return {"status": "alive"}

    @app.get("/ready")
    async def ready():
        """The model is loaded and every worker is up."""
        up = state["ready"] and all(s.pool.failure is None for s in state["slots"])
        if not up:
            return _error(503, "not_ready", "the workers are starting or restarting", **{"Retry-After": "1"})
        return {"status": "ready", "workers": len(state["slots"]),
                "worker_pids": [pid for s in state["slots"] for pid in s.pids]}

    @app.get("/metrics")
    async def prometheus():
        """Prometheus metrics: latency and batch-size histograms, queue depth, errors, restarts."""
        if state.get("slots"):
            metrics.restarts.set(sum(s.restarts for s in state["slots"]))
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


def serve(cfg: ServeConfig) -> None:
    """Run the server until SIGTERM or Ctrl-C, then drain and return (exit status 0)."""
    if cfg.engine == "ray":
        from leanformer.serve.ray_serve import run_ray

        return run_ray(cfg)
    if cfg.engine != "local":
        raise LeanformerError(f"unknown engine '{cfg.engine}'; expected local or ray")
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            # uvicorn re-raises the signal after its graceful shutdown, so the process would end as killed (143);
            # a drained server has done its job: stop on the first signal, force on the second, return normally
            previous = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for s, handler in previous.items():
                    signal.signal(s, handler)

    app = build_app(cfg)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    Server(uvicorn.Config(app, host=cfg.host, port=cfg.port, access_log=False, log_level="warning",
                          timeout_graceful_shutdown=cfg.drain_seconds)).run()
