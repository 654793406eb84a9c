"""Where leanformer keeps downloads and expensive artifacts, and how it writes outputs safely."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from leanformer.errors import LeanformerError


def cache_dir(*parts: str) -> Path:
    """The user cache (``$LEANFORMER_CACHE``, else ``$XDG_CACHE_HOME/leanformer``, else ``~/.cache/leanformer``)."""
    root = os.environ.get("LEANFORMER_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "leanformer")
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


#: written into every directory leanformer publishes, so a later run can tell its own outputs from a user's files
OUTPUT_MARKER = ".leanformer-output"


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: read once: os.umask can only be read by setting it, which is not safe while other threads create files
UMASK = _read_umask()


def pid_alive(pid: str) -> bool:
    """Whether process ``pid`` still runs: temporary files named after a dead one are stale."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def is_leanformer_output(path: str | os.PathLike) -> bool:
    path = Path(path)
    return (path / OUTPUT_MARKER).is_file() or (path / "leanformer.json").is_file()


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a in b.parents or b in a.parents


def check_output(target: str | os.PathLike, inputs=(), overwrite: bool = False, resumable: bool = False) -> None:
    """Refuse, before any work starts, an output that would destroy or mix with something.

    The output may not be, contain or lie inside an input. An existing non-empty directory is
    refused unless leanformer wrote it and ``overwrite`` (or, for resumable workflows, ``resumable``)
    is set: a directory holding anything else is never replaced. The location must be writable.
    """
    out = Path(target).expanduser().resolve()
    for source in inputs:
        if source is not None and Path(source).exists() and _overlaps(out, Path(source).expanduser().resolve()):
            raise LeanformerError(f"output {target} overlaps the input {source}; choose an output outside it")
    if out.exists():
        if not out.is_dir():
            raise LeanformerError(f"output {target} exists and is not a directory")
        if any(out.iterdir()):
            if not is_leanformer_output(out):
                raise LeanformerError(f"output {target} exists and holds files leanformer did not write; "
                                      "choose a new or empty directory (nothing was changed)")
            if not (overwrite or resumable):
                raise LeanformerError(f"output {target} holds an earlier leanformer output; "
                                      "pass --overwrite to replace it")
    parent = next(p for p in (out, *out.parents) if p.exists())
    if not os.access(parent, os.W_OK | os.X_OK):
        raise LeanformerError(f"cannot write to {target}: {parent} is not writable")


def _remove_stale(parent: Path, name: str) -> None:
    """Temporary siblings left by killed runs (their process is gone) are removed."""
    pattern = re.compile(rf"\.{re.escape(name)}\.(?:tmp|old)-(\d+)-.*")
    for stale in parent.iterdir():
        match = pattern.fullmatch(stale.name)
        if match and not pid_alive(match.group(1)):
            shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike, overwrite: bool = True):
    """Yield a temporary sibling directory that becomes ``target`` only if the block succeeds.

    Readers never see a half-written output: on any exception the temporary directory is removed
    and an existing ``target`` is left untouched. An existing non-empty ``target`` is replaced only
    if leanformer wrote it and ``overwrite`` is set; a directory holding anything else never is.
    Permissions follow the user's umask, so another account can read what this one wrote.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target.parent, target.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    try:
        yield tmp
        if not is_leanformer_output(tmp):  # a model directory is recognised by its manifest
            (tmp / OUTPUT_MARKER).write_text("written by leanformer\n", encoding="utf-8")
        _apply_umask(tmp)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            if not is_leanformer_output(target):
                raise LeanformerError(f"{target} exists and holds files leanformer did not write; refusing to replace it")
            if not overwrite:
                raise LeanformerError(f"{target} holds an earlier leanformer output; pass --overwrite to replace it")
            old = target.with_name(f".{target.name}.old-{os.getpid()}-0")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if target.exists():
                target.rmdir()
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _apply_umask(root: Path) -> None:
    """Temporary files and folders are created private; published ones get the modes the umask allows."""
    mask = UMASK
    os.chmod(root, 0o777 & ~mask)
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            os.chmod(os.path.join(folder, d), 0o777 & ~mask)
        for f in files:
            os.chmod(os.path.join(folder, f), 0o666 & ~mask)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a file via a temporary sibling and rename, so it is either old or complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
