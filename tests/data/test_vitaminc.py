import json

import pytest

from leanformer.data import vitaminc
from leanformer.errors import LeanformerError
from leanformer.utils.fetch import PinnedFile, sha256_of


def fake_task_json(tmp_path, titles):
    examples = []
    for t in titles:
        for verdict in ("True", "False", "Neither"):
            examples.append({"input": f"{t}: some evidence about {t} .\nClaim: a claim about {t} .",
                             "target_scores": {"True": int(verdict == "True"), "False": int(verdict == "False"),
                                               "Neither": int(verdict == "Neither")}})
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"examples": examples}))
    return path


def test_split_by_title_keeps_pages_together_and_maps_labels(tmp_path):
    titles = [f"Page {i}" for i in range(200)]
    splits = vitaminc.convert(fake_task_json(tmp_path, titles))
    seen = {}
    for name, records in splits.items():
        for r in records:
            assert seen.setdefault(r["title"], name) == name  # one page, one split
            assert r["evidence"].startswith(r["title"] + ":") and r["claim"].startswith("a claim about")
    assert {r["label"] for r in splits["train"]} == {"SUPPORTS", "REFUTES", "NOT ENOUGH INFO"}
    sizes = {k: len({r["title"] for r in v}) for k, v in splits.items()}
    assert sum(sizes.values()) == 200
    assert 0.05 < sizes["dev"] / 200 < 0.16 and 0.05 < sizes["test"] / 200 < 0.16  # about 10% each


def test_split_rule_is_stable():
    # the published split sizes in docs/ depend on this exact rule
    assert [vitaminc.split_of(t) for t in ("Westlife", "Arsenal F.C. in European football")] == ["train", "dev"]


def test_bad_layout_is_reported(tmp_path):
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"examples": [{"input": "no claim marker", "target_scores": {"True": 1}}]}))
    with pytest.raises(LeanformerError, match="example 0 is not in the expected VitaminC layout"):
        vitaminc.convert(path)


def test_without_the_sdist_the_same_task_file_comes_from_the_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "empty-index").as_uri())  # lists no bigbench
    (tmp_path / "empty-index" / "bigbench").mkdir(parents=True)
    (tmp_path / "empty-index" / "bigbench" / "index.html").write_text("<html></html>")
    task_json = fake_task_json(tmp_path, [f"Page {i}" for i in range(30)])
    monkeypatch.setattr(vitaminc, "TASK_JSON", PinnedFile("BIG-bench", "task.json", "0" * 64, url=task_json.as_uri()))
    monkeypatch.setattr(vitaminc, "TASK_JSON_SHA256", "0" * 64)
    with pytest.raises(LeanformerError, match=r"VitaminC is not available: .*lists no file bigbench-1.0.0.tar.gz.*"
                                              r"checksum mismatch.*--task polarity"):
        vitaminc.vitaminc_dir()
    assert not (tmp_path / "cache" / "datasets" / "vitaminc").exists()

    monkeypatch.setattr(vitaminc, "TASK_JSON", PinnedFile("BIG-bench", "task.json", sha256_of(task_json),
                                                          url=task_json.as_uri()))
    folder = vitaminc.vitaminc_dir()
    assert sum(len(p.read_text().splitlines()) for p in folder.glob("*.jsonl")) == 90
    assert list((tmp_path / "cache" / "downloads").iterdir()) == []  # converted: the task file is not kept
