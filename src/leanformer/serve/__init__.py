"""Serving a leanformer model over HTTP: micro-batching over pinned worker processes (``leanformer serve``)."""

from leanformer.serve.config import ServeConfig

__all__ = ["ServeConfig", "build_app", "serve"]


def __getattr__(name: str):
    # the web stack (FastAPI, uvicorn) loads on first use, not whenever the CLI starts
    if name in ("build_app", "serve"):
        from leanformer.serve import server
        return getattr(server, name)
    raise AttributeError(f"module 'leanformer.serve' has no attribute '{name}'")
