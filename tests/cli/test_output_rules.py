"""Commands never destroy a user's files: every refused case exits 2 with one line and leaves the tree byte-for-byte."""

import hashlib
from pathlib import Path

import pytest

from leanformer.cli.main import main


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def refused(argv: list[str], root: Path, capsys, expected: str) -> None:
    before = tree_digest(root)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert tree_digest(root) == before


TRAIN = ["--task", "generic", "--epochs", "1", "--fp32", "--threads", "1"]


def test_output_holding_user_files_is_refused(tmp_path, tiny_model, toy_dataset, capsys):
    model = tiny_model("bert")
    out = tmp_path / "mine"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("my notes")
    (out / "sub" / "data.csv").write_text("a,b\n")
    for extra in ([], ["--overwrite"]):
        refused(["train", "-m", str(model), "-o", str(out), "--data-dir", str(toy_dataset), *TRAIN, *extra],
                tmp_path, capsys, "holds files leanformer did not write")


def test_output_equal_to_the_data_dir_is_refused(tmp_path, tiny_model, toy_dataset, capsys):
    refused(["train", "-m", str(tiny_model("bert")), "-o", str(toy_dataset), "--data-dir", str(toy_dataset), *TRAIN],
            tmp_path, capsys, "overlaps the input")


def test_rerun_needs_overwrite_and_then_replaces_only_its_own_output(tmp_path, trained_toy, capsys):
    out = tmp_path / "onnx"
    assert main(["export", "-m", str(trained_toy["torch"]), "-o", str(out)]) == 0
    capsys.readouterr()
    refused(["export", "-m", str(trained_toy["torch"]), "-o", str(out)], tmp_path, capsys, "pass --overwrite")
    assert main(["export", "-m", str(trained_toy["torch"]), "-o", str(out), "--overwrite"]) == 0


def test_predictions_never_overwrite_the_input_or_an_existing_file(tmp_path, trained_toy, capsys):
    data = trained_toy["data"]
    refused(["predict", "-m", str(trained_toy["torch"]), "-i", str(data / "test.jsonl"), "-o", str(data / "test.jsonl")],
            data, capsys, "overlaps the input")
    existing = tmp_path / "p.jsonl"
    existing.write_text("keep me")
    refused(["predict", "-m", str(trained_toy["torch"]), "-i", str(data / "test.jsonl"), "-o", str(existing)],
            tmp_path, capsys, "exists; pass --overwrite")


BAD_CSV = {
    "unterminated quote": ('text,label\ngood film,pos\nfine film,"pos\nawful film,neg\n', "train.csv, line 3: unterminated"),
    "empty text cell": ("text,label\ngood film,pos\n ,neg\n", "train.csv, line 3, field 'text': empty text"),
    "label with a line break": ('text,label\ngood,pos\nbad,"neg\nx"\n', "train.csv, line 3, field 'label': implausible"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_csv_is_refused_before_any_work(tmp_path, tiny_model, case, capsys):
    text, expected = BAD_CSV[case]
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text(text)
    (data / "dev.csv").write_text("text,label\ngood,pos\nbad,neg\n")
    refused(["train", "-m", str(tiny_model("bert")), "-o", str(tmp_path / "out"), "--data-dir", str(data), *TRAIN],
            tmp_path, capsys, expected)


def test_an_unknown_model_fails_fast_when_the_hub_is_unreachable(tmp_path, toy_dataset, monkeypatch, capsys):
    import time

    import huggingface_hub

    from leanformer.models import loading

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    loading._offline_unless_hub_reachable.cache_clear()
    start = time.monotonic()
    try:
        refused(["train", "-m", "no-such-org/no-such-model", "-o", str(tmp_path / "out"), "--data-dir", str(toy_dataset),
                 *TRAIN], tmp_path, capsys, "cannot load 'no-such-org/no-such-model': not a built-in model")
    finally:
        loading._offline_unless_hub_reachable.cache_clear()
    assert time.monotonic() - start < 10
