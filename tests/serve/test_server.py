"""The HTTP server on a tiny model: validation, micro-batching under concurrency, overload, restarts, drain."""

import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
import uvicorn

from leanformer.runtime.predictor import Predictor
from leanformer.serve import ServeConfig, build_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port: int, path: str, body=None, raw: bytes | None = None, timeout: float = 30):
    """(status, headers, JSON body) of one request."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            payload = r.read()
            return r.status, dict(r.headers), json.loads(payload) if path != "/metrics" else payload.decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


class Running:
    """A server in a background thread of this process, on a free port."""

    def __init__(self, model, **settings):
        self.port = _free_port()
        self.app = build_app(ServeConfig(model=str(model), port=self.port, instances=1, threads=1, **settings))
        self.server = uvicorn.Server(uvicorn.Config(self.app, port=self.port, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if call(self.port, "/ready")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not become ready")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=60)


@pytest.fixture(scope="module")
def model(trained_toy):
    return trained_toy["onnx"]


def test_answers_validation_and_limits_with_json_errors(model):
    with Running(model, max_inputs=3, max_chars=50, max_body_bytes=2000) as s:
        status, _, body = call(s.port, "/v1/predict", {"inputs": ["the film is great", "a dog is bad"]})
        assert status == 200 and len(body["predictions"]) == 2 and body["model"] == model.name
        assert call(s.port, "/v1/predict", {"inputs": [["a dog", "is bad"]]})[0] == 200
        assert body["predictions"][0]["label"] in ("pos", "neg")
        assert abs(sum(body["predictions"][0]["probabilities"].values()) - 1) < 1e-4
        for payload, status_code, kind in (
                ({"inputs": []}, 422, "invalid_request"), ({"text": "x"}, 422, "invalid_request"),
                ({"inputs": [["only one"]]}, 422, "invalid_request"), ({"inputs": [3]}, 422, "invalid_request"),
                ({"inputs": ["a", ["b", "c"]]}, 422, "invalid_request"),
                ({"inputs": ["a"] * 4}, 413, "too_many_inputs"), ({"inputs": ["x" * 51]}, 413, "text_too_long")):
            status, _, body = call(s.port, "/v1/predict", payload)
            assert (status, body["error"]["kind"]) == (status_code, kind), payload
        status, _, body = call(s.port, "/v1/predict", raw=b'{"inputs": ["' + b"y" * 3000 + b'"]}')
        assert (status, body["error"]["kind"]) == (413, "body_too_large")
        status, _, body = call(s.port, "/v1/predict", raw=b"{not json")
        assert (status, body["error"]["kind"]) == (422, "invalid_request")
        assert call(s.port, "/health")[0] == 200
        metrics = call(s.port, "/metrics")[2]
        assert 'leanformer_errors_total{kind="too_many_inputs"} 1.0' in metrics
        assert "leanformer_request_seconds_bucket" in metrics and "leanformer_batch_inputs_bucket" in metrics
        openapi = call(s.port, "/openapi.json")[2]
        assert "/v1/predict" in openapi["paths"]


def test_concurrent_callers_each_get_their_own_answers_in_shared_batches(model):
    texts = [f"the {w} is {'very ' * (i % 4)}{a}" for i, (w, a) in
             enumerate((w, a) for w in ("film", "cat", "book", "dog", "song") for a in ("good", "awful", "fine", "bad"))]
    expected = Predictor(str(model)).predict(texts)
    with Running(model, max_wait_ms=20, max_batch_size=16) as s:
        def ask(i):
            return i, call(s.port, "/v1/predict", {"inputs": [texts[i]]})

        for _ in range(3):
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                answers = list(pool.map(ask, range(len(texts))))
            for i, (status, _, body) in answers:
                assert status == 200
                got = body["predictions"][0]
                assert got["label"] == expected[i]["label"]
                assert list(got["probabilities"].values()) == pytest.approx(expected[i]["probabilities"], abs=1e-4)
        metrics = call(s.port, "/metrics")[2]
        sizes = [line for line in metrics.splitlines() if line.startswith("leanformer_batch_inputs_count")]
        assert float(sizes[0].split()[-1]) < 3 * len(texts)  # some requests shared a batch


def test_a_full_queue_is_refused_at_once_with_retry_after(model):
    with Running(model, queue_size=2) as s:
        start = time.perf_counter()
        status, headers, body = call(s.port, "/v1/predict", {"inputs": ["a", "b", "c"]})
        assert (status, body["error"]["kind"]) == (503, "overloaded") and headers["retry-after"] == "1"
        assert time.perf_counter() - start < 1.0


def test_a_killed_worker_is_restarted_and_the_server_keeps_serving(model):
    with Running(model) as s:
        slot = s.app.state.leanformer["slots"][0]
        os.kill(slot.pids[0], signal.SIGKILL)
        statuses = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, _, body = call(s.port, "/v1/predict", {"inputs": ["the cat is good"]})
            statuses.append(status)
            if status == 200:
                break
        assert statuses[-1] == 200 and statuses.count(500) <= 1
        assert slot.restarts == 1 and call(s.port, "/ready")[0] == 200
        assert "leanformer_worker_restarts 1.0" in call(s.port, "/metrics")[2]


def test_sigterm_finishes_accepted_requests_then_exits_zero(model, tmp_path):
    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "leanformer.cli.main", "serve", str(model), "--port", str(port),
                             "--instances", "1", "--max-wait-ms", "300"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if call(port, "/ready")[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(call, port, "/v1/predict", {"inputs": ["the film is great"] * 8})
            time.sleep(0.1)  # accepted and waiting in its micro-batch window
            proc.send_signal(signal.SIGTERM)
            status, _, body = pending.result(timeout=60)
        assert status == 200 and len(body["predictions"]) == 8
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    access = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines() if line.startswith("{")]
    assert {"method": "POST", "path": "/v1/predict", "status": 200} in [
        {k: a[k] for k in ("method", "path", "status")} for a in access]
