"""Load test of ``leanformer serve`` on loopback, next to the offline multi-instance throughput of the same
model measured in the same run. Bounded in requests and time; stops by itself.

For each concurrency level, every client sends single-input requests over its own keep-alive connection
until the level's request count is reached; reported: throughput, p50/p95/p99 latency, errors, and the
cost per 100M queries through the server. Then an overload check (a tiny queue: 503s and how fast they
come) and a worker kill (how many requests fail, whether the server keeps answering).

    .venv/bin/python benchmarks/serve_load.py --model RUNS/student-int8 --output RUNS/serve-load
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from leanformer.bench.costs import Price, usd_per_100m
from leanformer.bench.machine import machine_info
from leanformer.models import Manifest
from leanformer.runtime.multi_instance import MultiInstancePredictor
from leanformer.tasks import task_for
from leanformer.utils.cpu import physical_cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def predict(self, inputs: list) -> tuple[int, float]:
        body = json.dumps({"inputs": inputs})
        start = time.perf_counter()
        self.conn.request("POST", "/v1/predict", body, {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - start


def start_server(model: str, port: int, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "leanformer.cli.main", "serve", model, "--port", str(port), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ready")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not become ready")


def load(port: int, inputs: list, clients: int, requests: int, rate: float | None = None) -> dict:
    """``requests`` single-input requests from ``clients`` concurrent keep-alive clients: each sends its next as
    soon as the last is answered, or, given ``rate`` (queries/s in all), on a fixed schedule (open loop; a late
    answer delays only its own client's next send)."""
    per_client = [inputs[i::clients] for i in range(clients)]
    per_client = [(q * (requests // max(1, len(inputs)) + 1))[: requests // clients] for q in per_client]
    begin = time.perf_counter() + 0.1

    def run(i_queries):
        i, queries = i_queries
        client, results = Client(port), []
        for k, q in enumerate(queries):
            if rate:
                time.sleep(max(0.0, begin + (k * clients + i) / rate - time.perf_counter()))
            results.append(client.predict([q]))
        return results

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = [r for rs in pool.map(run, enumerate(per_client)) for r in rs]
    seconds = time.perf_counter() - start
    latencies = sorted(t for status, t in results if status == 200)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {"clients": clients, "requests": len(results), "errors": sum(s != 200 for s, _ in results),
            "seconds": seconds, "queries_per_second": len(results) / seconds,
            "p50_ms": 1000 * q[49], "p95_ms": 1000 * q[94], "p99_ms": 1000 * q[98]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="leanformer model directory (int8 ONNX)")
    parser.add_argument("--output", required=True)
    parser.add_argument("--requests", type=int, default=2000, help="requests per concurrency level")
    parser.add_argument("--clients", default="1,4,16,64")
    parser.add_argument("--max-batch-size", type=int, default=32)
    args = parser.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest.read(args.model)
    examples = task_for(manifest.task).examples("test")[: args.requests]
    inputs = [list(ex.pairs[0]) if ex.pairs[0][1] is not None else ex.pairs[0][0] for ex in examples]
    cores = physical_cores()

    # offline: the same pinned workers, fed micro-batch-sized batches of raw texts as fast as they go (they
    # tokenise, as the server's do)
    texts = [tuple(x) if isinstance(x, list) else x for x in inputs]
    with MultiInstancePredictor(args.model, cores, threads=1) as offline:
        offline.logits(texts[:64], batch_size=8)
        start = time.perf_counter()
        offline.logits(texts, batch_size=8)
        offline_qps = len(texts) / (time.perf_counter() - start)

    port = free_port()
    proc = start_server(args.model, port, "--instances", str(cores), "--threads", "1",
                        "--max-batch-size", str(args.max_batch_size))
    try:
        levels = [load(port, inputs, int(c), args.requests) for c in args.clients.split(",")]
        saturation = max(levels, key=lambda r: r["queries_per_second"])
        half_rate = saturation["queries_per_second"] / 2
        half = {"rate": half_rate, **load(port, inputs, 16, args.requests // 2, rate=half_rate)}
    finally:
        proc.send_signal(signal.SIGTERM)
        drained = proc.wait(timeout=120)

    overload_port = free_port()
    proc = start_server(args.model, overload_port, "--instances", "1", "--queue-size", "8", "--max-wait-ms", "50")
    try:
        burst = load(overload_port, inputs, 64, 640)
        refused = Client(overload_port)
        times = []
        for _ in range(20):
            status, seconds = refused.predict(inputs[:9])  # more inputs than the queue holds
            times.append((status, seconds))
        # a killed worker: only what it held fails, the server goes on
        info = json.loads(_get(overload_port, "/ready"))
        os.kill(info["worker_pids"][0], signal.SIGKILL)
        after = load(overload_port, inputs, 4, 200)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    price = Price()
    result = {"model": args.model, "machine": machine_info(), "offline_queries_per_second": offline_qps,
              "levels": levels, "saturation_vs_offline": saturation["queries_per_second"] / offline_qps,
              "half_saturation": half, "sigterm_exit_code": drained,
              "usd_per_100m_through_server": usd_per_100m(saturation["seconds"], saturation["requests"], price, cores),
              "overload_burst": burst, "refusals": {"statuses": sorted({s for s, _ in times}),
                                                    "max_ms": 1000 * max(t for _, t in times)},
              "ready_before_kill": info, "after_worker_kill": after}
    (out / "serve_load.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _get(port: int, path: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    return conn.getresponse().read().decode()


if __name__ == "__main__":
    main()
