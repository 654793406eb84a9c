"""Model sources, loading, and leanformer's on-disk model format."""

from leanformer.models.loading import SUPPORTED_MODEL_TYPES, count_parameters, load_for_task, load_model
from leanformer.models.manifest import Manifest, save_model
from leanformer.models.sources import BUILTIN_SOURCES, builtin_path

__all__ = ["BUILTIN_SOURCES", "SUPPORTED_MODEL_TYPES", "Manifest", "builtin_path", "count_parameters",
           "load_for_task", "load_model", "save_model"]
