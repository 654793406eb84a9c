"""Output rules: never replace a user's files, never write into an input, follow the umask, clean stale temp dirs."""

import os
import stat

import pytest

from leanformer.errors import LeanformerError
from leanformer.utils.paths import (OUTPUT_MARKER, append_row, atomic_dir, atomic_write_text, check_output,
                                    check_output_file, prepare_output_dir, read_rows, remove_stale, scratch_dir)


def test_a_directory_holding_user_files_is_never_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(LeanformerError, match="holds files leanformer did not write"):
        check_output(out, overwrite=True)
    with pytest.raises(LeanformerError, match="holds files leanformer did not write"):
        with atomic_dir(out) as tmp:
            (tmp / "model.bin").write_text("x")
    assert sorted(os.listdir(out)) == ["notes.txt"] and not [p for p in os.listdir(tmp_path) if p != "out"]


def test_an_earlier_output_needs_overwrite(tmp_path):
    out = tmp_path / "out"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("1")
    assert (out / OUTPUT_MARKER).is_file()
    with pytest.raises(LeanformerError, match="pass --overwrite"):
        check_output(out)
    check_output(out, overwrite=True)
    check_output(out, resumable=True)
    check_output(tmp_path / "empty-or-new")


@pytest.mark.parametrize("relation", ["same", "inside", "containing"])
def test_output_overlapping_an_input_is_refused(tmp_path, relation):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text("{}")
    out = {"same": data, "inside": data / "out", "containing": tmp_path}[relation]
    with pytest.raises(LeanformerError, match="overlaps the input"):
        check_output(out, [data], overwrite=True)
    with pytest.raises(LeanformerError, match="overlaps the input"):
        check_output_file(data / "train.jsonl", [data / "train.jsonl"], overwrite=True)


def test_output_files_are_not_replaced_without_overwrite(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text("old")
    with pytest.raises(LeanformerError, match="exists; pass --overwrite"):
        check_output_file(f)
    check_output_file(f, overwrite=True)
    with pytest.raises(LeanformerError, match="is a directory"):
        check_output_file(tmp_path, overwrite=True)


def test_unwritable_location_is_refused_up_front(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LeanformerError, match="is not a directory"):
        check_output(blocker / "out")
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # a read-only mount, even for root
    with pytest.raises(LeanformerError, match=f"cannot write to {tmp_path / 'out'}: {tmp_path} is not writable"):
        check_output(tmp_path / "out")


def test_published_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        import leanformer.utils.paths as paths
        mask, paths.UMASK = paths.UMASK, 0o022
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "sub").mkdir()
            (tmp / "sub" / "w.bin").write_bytes(b"x")
        atomic_write_text(tmp_path / "f.txt", "x")
        paths.UMASK = mask
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out" / "sub" / "w.bin").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o644


def test_stale_temp_dirs_of_dead_runs_are_cleaned(tmp_path):
    stale = tmp_path / ".out.tmp-999999999-abc"
    stale.mkdir()
    (stale / "big.onnx").write_bytes(b"x" * 100)
    mine = tmp_path / f".out.tmp-{os.getpid()}-xyz"
    mine.mkdir()
    with scratch_dir(tmp_path / "out") as scratch:
        assert os.path.isdir(scratch)
    assert not stale.exists() and mine.exists()


def test_a_replacement_killed_between_its_renames_is_undone(tmp_path):
    with atomic_dir(tmp_path / "checkpoint") as tmp:
        (tmp / "state.json").write_text("{}")
    # the kill came after `target -> .old` and before `tmp -> target`
    os.replace(tmp_path / "checkpoint", tmp_path / ".checkpoint.old-999999999-0")
    (tmp_path / ".checkpoint.tmp-999999999-abc").mkdir()
    remove_stale(tmp_path)
    assert (tmp_path / "checkpoint" / "state.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_progress_rows_survive_a_cut_last_line_but_not_a_damaged_one(tmp_path):
    log = tmp_path / "progress.jsonl"
    assert read_rows(log) == []
    append_row(log, {"a": 1})
    append_row(log, {"a": 2})
    log.write_text(log.read_text() + '{"a": ')
    assert read_rows(log) == [{"a": 1}, {"a": 2}]
    append_row(log, {"a": 3})  # the next row does not join the cut one
    assert read_rows(log) == [{"a": 1}, {"a": 2}, {"a": 3}]
    log.write_text('{"a": 1}\n{"a" 2}\n{"a": 3}\n')
    with pytest.raises(LeanformerError, match=r"progress.jsonl, line 2: not a JSON row"):
        read_rows(log)


def test_prepare_output_dir_marks_the_folder(tmp_path):
    out = prepare_output_dir(tmp_path / "report")
    assert (out / OUTPUT_MARKER).is_file()
    prepare_output_dir(out, resumable=True)
