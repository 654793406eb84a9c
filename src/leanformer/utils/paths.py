"""Where leanformer keeps downloads and expensive artifacts, and how it writes outputs safely."""

from __future__ import annotations

import contextlib
import json
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


def _pid_alive(pid: str) -> bool:
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


def _checked_location(target: str | os.PathLike, inputs) -> Path:
    """The resolved output path, once it is known not to overlap an input and to lie in a writable folder."""
    out = Path(target).expanduser().resolve()
    for source in inputs:
        if source is None or not Path(source).exists():
            continue
        src = Path(source).expanduser().resolve()
        if out == src or out in src.parents or src in out.parents:
            raise LeanformerError(f"output {target} overlaps the input {source}; choose an output outside it")
    folder = next(p for p in (out.parent, *out.parent.parents) if p.exists())
    if not folder.is_dir():
        raise LeanformerError(f"cannot write to {target}: {folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LeanformerError(f"cannot write to {target}: {folder} is not writable")
    return out


def check_output(target: str | os.PathLike, inputs=(), overwrite: bool = False, resumable: bool = False) -> None:
    """Refuse, before any work starts, an output directory that would destroy or mix with something.

    The output may not be, contain or lie inside an input. An existing non-empty directory is
    refused unless leanformer wrote it and ``overwrite`` (or, for resumable workflows, ``resumable``)
    is set: a directory holding anything else is never replaced. The location must be writable.
    """
    out = _checked_location(target, inputs)
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


def check_output_file(target: str | os.PathLike, inputs=(), overwrite: bool = False) -> None:
    """The same rules for a single output file: never an input, never an existing file unless ``overwrite``."""
    out = _checked_location(target, inputs)
    if out.is_dir():
        raise LeanformerError(f"output {target} is a directory; expected a file name")
    if out.exists() and not overwrite:
        raise LeanformerError(f"output {target} exists; pass --overwrite to replace it")


def prepare_output_dir(target: str | os.PathLike, inputs=(), overwrite: bool = False, resumable: bool = False) -> Path:
    """:func:`check_output`, then create ``target`` and mark it as leanformer's, for workflows that fill a
    folder step by step (a sweep, a report, a recipe)."""
    check_output(target, inputs, overwrite, resumable)
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    if not is_leanformer_output(out):
        (out / OUTPUT_MARKER).write_text("written by leanformer\n", encoding="utf-8")
    return out


def temporary_name(name: str) -> str:
    """A hidden name for an in-progress ``name`` that :func:`remove_stale` recognises once its process is gone."""
    return f".{name}.tmp-{os.getpid()}-"


def remove_stale(parent: Path, name: str | None = None) -> None:
    """Temporaries (folders or files) of ``name`` (any name if None) left by killed runs are removed, but an
    ``.old`` copy whose target is missing is put back: the run was killed between the two renames of
    :func:`atomic_dir`, and it is the last complete version (a checkpoint, say)."""
    stem = re.escape(name) if name is not None else ".+"
    pattern = re.compile(rf"\.({stem})\.(tmp|old)-(\d+)-.*")
    for stale in sorted(parent.iterdir()):
        match = pattern.fullmatch(stale.name)
        if match and not _pid_alive(match.group(3)):
            target = parent / match.group(1)
            if match.group(2) == "old" and not target.exists():
                os.replace(stale, target)
            elif stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


@contextlib.contextmanager
def scratch_dir(target: str | os.PathLike):
    """A temporary folder beside ``target`` for intermediate files; removed afterwards, or by the next run if killed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target.parent, target.name)
    with tempfile.TemporaryDirectory(prefix=temporary_name(target.name), dir=target.parent) as tmp:
        yield tmp


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike):
    """Yield a temporary sibling directory that becomes ``target`` only if the block succeeds.

    Readers never see a half-written output: on any exception the temporary directory is removed
    and an existing ``target`` is left untouched. An existing non-empty ``target`` is replaced only
    if leanformer wrote it (whether the user allowed that is :func:`check_output`'s question, asked
    before the work); a directory holding anything else never is.
    Permissions follow the user's umask, so another account can read what this one wrote.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target.parent, target.name)
    tmp = Path(tempfile.mkdtemp(prefix=temporary_name(target.name), dir=target.parent))
    try:
        yield tmp
        if not is_leanformer_output(tmp):  # a model directory is recognised by its manifest
            (tmp / OUTPUT_MARKER).write_text("written by leanformer\n", encoding="utf-8")
        _apply_umask(tmp)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            if not is_leanformer_output(target):
                raise LeanformerError(f"{target} exists and holds files leanformer did not write; refusing to replace it")
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


def append_row(path: Path, row: dict) -> None:
    """One JSON line appended to a progress log (the unit of work a killed run keeps)."""
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def read_rows(path: Path) -> list[dict]:
    """The rows of a progress log; a last line cut short by a kill is dropped, from the file too, so that the
    next row starts on a line of its own (its work is done again)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines):
                raise LeanformerError(f"{path}, line {number}: not a JSON row; delete the file to measure anew")
            atomic_write_text(path, "".join(f"{kept}\n" for kept in lines[:-1]))
    return rows
