"""What the numbers were measured on: CPU, cores, instruction-set flags, library versions."""

from __future__ import annotations

import importlib.metadata
import os
import platform

from leanformer.utils.cpu import cpu_flags, physical_cores

FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile")
LIBRARIES = ("leanformer", "torch", "transformers", "onnx", "onnxruntime", "numpy")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            versions[lib] = None
    return {"cpu": cpu_model(), "logical_cpus": len(os.sched_getaffinity(0)), "physical_cores": physical_cores(),
            "flags": [f for f in FLAGS if f in cpu_flags()], "python": platform.python_version(),
            "platform": platform.platform(), "libraries": versions}
