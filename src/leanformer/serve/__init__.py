"""Serving a leanformer model over HTTP: micro-batching over pinned worker processes (``leanformer serve``)."""

from leanformer.serve.config import ServeConfig
from leanformer.serve.server import build_app, serve

__all__ = ["ServeConfig", "build_app", "serve"]
