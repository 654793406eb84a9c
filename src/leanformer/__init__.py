"""leanformer: make fine-tuned Transformer NLU models much cheaper to serve, and prove it."""

__version__ = "0.1.0"
