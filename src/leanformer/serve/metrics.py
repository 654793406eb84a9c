"""Prometheus metrics of one server (its own registry, so several apps in one process stay apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.latency = Histogram("leanformer_request_seconds", "Time from request to answer, by outcome.",
                                 ["status"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("leanformer_batch_inputs", "Inputs per micro-batch.", buckets=BATCH_BUCKETS,
                                    registry=self.registry)
        self.queue_depth = Gauge("leanformer_queue_inputs", "Inputs waiting for a micro-batch.",
                                 registry=self.registry)
        self.errors = Counter("leanformer_errors", "Requests answered with an error, by kind.", ["kind"],
                              registry=self.registry)
        self.restarts = Gauge("leanformer_worker_restarts", "Inference workers restarted since start.",
                              registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
