"""Optional extras (Ray, OpenVINO, CTranslate2): imported on first use, with one line naming what to install."""

from __future__ import annotations

import importlib

from leanformer.errors import LeanformerError


def import_extra(module: str, extra: str, feature: str):
    """``module``, or a LeanformerError saying that ``feature`` needs ``pip install 'leanformer[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise LeanformerError(f"{feature} needs {extra}: pip install 'leanformer[{extra.lower()}]'") from None
