"""The downloader against local package indexes: a file:// index (PEP 503 HTML) and a loopback HTTP one (PEP 691 JSON)."""

import errno
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from leanformer.cli.main import main
from leanformer.errors import LeanformerError
from leanformer.utils import fetch

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
WANTED = fetch.PinnedFile("demo-pkg", "demo_pkg-1.0-py3-none-any.whl", hashlib.sha256(PAYLOAD).hexdigest())


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def file_index(tmp_path, monkeypatch) -> Path:
    """A PEP 503 index on disk holding the wanted file and a decoy of another version, as pip reads it."""
    files = tmp_path / "files"
    files.mkdir()
    (files / WANTED.filename).write_bytes(PAYLOAD)
    (files / "demo_pkg-0.9-py3-none-any.whl").write_bytes(b"older release")
    page = tmp_path / "simple" / "demo-pkg"
    page.mkdir(parents=True)
    page.joinpath("index.html").write_text(
        "<html><body>"
        '<a href="../../files/demo_pkg-0.9-py3-none-any.whl#sha256=00">demo_pkg-0.9-py3-none-any.whl</a>'
        f'<a href="../../files/{WANTED.filename}#sha256={WANTED.sha256}">{WANTED.filename}</a>'
        "</body></html>")
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())
    return tmp_path


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "downloads").iterdir())


def test_the_pinned_file_is_chosen_and_verified(file_index, cache):
    path = fetch.fetch(WANTED)
    assert path == cache / "downloads" / WANTED.filename and path.read_bytes() == PAYLOAD
    assert leftovers(cache) == [WANTED.filename]


def test_wrong_checksum_is_refused_and_nothing_is_kept(file_index, cache):
    wrong = fetch.PinnedFile(WANTED.project, WANTED.filename, "0" * 64)
    with pytest.raises(LeanformerError, match=r"checksum mismatch for demo_pkg-1.0-py3-none-any.whl .*discarded"):
        fetch.fetch(wrong)
    assert leftovers(cache) == []


def test_a_file_placed_by_hand_is_used_once_it_matches(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # never reached
    (cache / "downloads").mkdir(parents=True)
    (cache / "downloads" / WANTED.filename).write_bytes(PAYLOAD)
    assert fetch.fetch(WANTED).read_bytes() == PAYLOAD


def test_unreachable_index_names_package_index_and_manual_path(cache, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    with pytest.raises(LeanformerError) as e:
        fetch.fetch(WANTED)
    message = str(e.value)
    assert "demo_pkg-1.0-py3-none-any.whl (demo-pkg) from http://127.0.0.1:9/simple" in message
    assert "unreachable" in message and str(cache / "downloads" / WANTED.filename) in message
    assert leftovers(cache) == []


def test_a_file_outside_the_index_comes_from_its_own_address(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # never asked
    (tmp_path / "elsewhere.bin").write_bytes(PAYLOAD)
    pinned = fetch.PinnedFile("demo", "demo.bin", WANTED.sha256, url=(tmp_path / "elsewhere.bin").as_uri())
    assert fetch.fetch(pinned).read_bytes() == PAYLOAD
    missing = fetch.PinnedFile("demo", "gone.bin", WANTED.sha256, url=(tmp_path / "gone.bin").as_uri())
    with pytest.raises(LeanformerError, match=r"gone.bin \(demo\) from file://.*gone.bin: unreachable"):
        fetch.fetch(missing)


def test_missing_file_on_the_index_is_named(file_index, cache):
    with pytest.raises(LeanformerError, match="the index lists no file demo_pkg-2.0"):
        fetch.fetch(fetch.PinnedFile("demo-pkg", "demo_pkg-2.0-py3-none-any.whl", "0" * 64))


def test_disk_full_is_one_clear_error_and_no_partial_file(file_index, cache, monkeypatch):
    def full_disk(url, part, label):
        part.write_bytes(PAYLOAD[:1000])
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(fetch, "_transfer", full_disk)
    with pytest.raises(LeanformerError, match="no space left on the device while downloading demo_pkg-1.0"):
        fetch.fetch(WANTED)
    assert leftovers(cache) == []


def test_stale_partial_files_of_dead_runs_are_removed(file_index, cache):
    (cache / "downloads").mkdir(parents=True)
    stale = cache / "downloads" / f".{WANTED.filename}.tmp-999999999-part"
    stale.write_bytes(b"half")
    fetch.fetch(WANTED)
    assert leftovers(cache) == [WANTED.filename]


class FlakyJsonIndex(BaseHTTPRequestHandler):
    """A PEP 691 index whose file transfer breaks off half-way the first time, then honours Range requests."""

    broke = False
    ranges: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/simple/demo-pkg/":
            body = json.dumps({"meta": {"api-version": "1.1"}, "name": "demo-pkg", "files": [
                {"filename": WANTED.filename, "url": f"/files/{WANTED.filename}", "hashes": {}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        start = int(self.headers.get("Range", "bytes=0-")[6:].rstrip("-"))
        type(self).ranges.append(self.headers.get("Range"))
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(PAYLOAD) - start))
        self.end_headers()
        if not type(self).broke:
            type(self).broke = True
            self.wfile.write(PAYLOAD[:300_000])
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection drops mid-transfer
            return
        self.wfile.write(PAYLOAD[start:])


def test_a_broken_transfer_is_resumed_from_where_it_stopped(cache, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyJsonIndex)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(fetch.time, "sleep", lambda s: None)
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_port}/simple")
    try:
        assert fetch.fetch(WANTED).read_bytes() == PAYLOAD
    finally:
        server.shutdown()
    assert FlakyJsonIndex.ranges[0] is None and FlakyJsonIndex.ranges[1].startswith("bytes=") \
        and FlakyJsonIndex.ranges[1] != "bytes=0-"


def test_the_index_comes_from_pips_configuration(tmp_path, monkeypatch):
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://mirror.example/simple\n")
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert fetch.index_url() == "https://mirror.example/simple"


def test_cli_download_failure_is_one_line_exit_2(tmp_path, cache, monkeypatch, capsys):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    code = main(["train", "-m", "all-MiniLM-L6-v2", "-o", str(tmp_path / "out"), "--task", "polarity"])
    err = capsys.readouterr().err
    assert code == 2 and "could not download" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and leftovers(cache) == []
