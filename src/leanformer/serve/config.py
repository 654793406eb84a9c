"""Everything ``leanformer serve`` can be told, with the limits that keep a server responsive."""

from __future__ import annotations

from dataclasses import dataclass

from leanformer.utils.config import MAX_LENGTH_HELP, option


@dataclass(kw_only=True)
class ServeConfig:
    model: str = option(help="Leanformer model directory to serve (int8 ONNX for speed).", cli=False)
    host: str = option("127.0.0.1", "Address to listen on (0.0.0.0 for every interface).")
    port: int = option(8000, "TCP port.")
    instances: int | None = option(None, "Worker processes, each pinned to its own cores (default: the setting "
                                         "tune-instances stored in the manifest, else one per physical core).")
    threads: int | None = option(None, "Intra-op threads per worker (default: as tuned, else 1).")
    max_batch_size: int = option(32, "Most inputs one micro-batch gathers.")
    max_wait_ms: float = option(0.0, "Longest a request waits for others to join its micro-batch while a worker "
                                     "is free (0: none; batches still form from what queues while every worker "
                                     "is busy).")
    model_batch_size: int = option(8, "Inputs per model call inside a micro-batch, grouped by length (less "
                                      "padding).")
    queue_size: int = option(1024, "Most inputs waiting at once; beyond it requests get 503 with Retry-After.")
    max_inputs: int = option(64, "Most inputs in one request.")
    max_chars: int = option(10000, "Most characters in one text.")
    max_body_bytes: int = option(1_000_000, "Largest request body.")
    max_length: int | None = option(None, MAX_LENGTH_HELP)
    drain_seconds: float = option(30.0, "On SIGTERM: how long in-flight requests may take to finish.")
    start_timeout: float = option(300.0, "How long workers may take to load the model.")
    engine: str = option("local", "local (pinned worker processes on this machine) or ray (a Ray Serve deployment "
                                  "for several machines; pip install 'leanformer[ray]').")
    ray_address: str | None = option(None, "Ray cluster address for --engine ray (default: a local Ray).")
    replicas: int = option(1, "--engine ray: replicas of the model (the minimum, when autoscaling).")
    max_replicas: int | None = option(None, "--engine ray: autoscale between --replicas and this many replicas.")
