import json

import pytest

from leanformer.data.readers import read_jsonl, read_records, read_table
from leanformer.errors import DataError


def test_jsonl_skips_blank_lines_and_numbers_lines(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text('{"x": 1}\n\n{"x": 2}\n')
    assert list(read_jsonl(p)) == [(1, {"x": 1}), (3, {"x": 2})]


def test_malformed_json_names_line(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text('{"x": 1}\n{"x": \n')
    with pytest.raises(DataError, match=r"a\.jsonl, line 2: malformed JSON"):
        list(read_jsonl(p))


def test_json_line_must_be_object(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text('[1, 2]\n')
    with pytest.raises(DataError, match="line 1: expected a JSON object, got list"):
        list(read_jsonl(p))


def test_non_utf8_names_line_and_byte(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes(b"text,label\nok,1\ncaf\xe9,0\n")
    with pytest.raises(DataError, match=r"a\.csv, line 3: not valid UTF-8 \(byte 0xe9"):
        list(read_records(p))


@pytest.mark.parametrize("content", ["", "  \n\n"])
def test_empty_file(tmp_path, content):
    p = tmp_path / "a.tsv"
    p.write_text(content)
    with pytest.raises(DataError, match="file is empty"):
        list(read_records(p))


def test_wrong_column_count(tmp_path):
    p = tmp_path / "a.tsv"
    p.write_text("text\tlabel\nhello\t1\nno label here\n")
    with pytest.raises(DataError, match=r"line 3: expected 2 columns \(text, label\), found 1"):
        list(read_table(p, "\t"))


def test_csv_quoted_newlines_keep_line_numbers(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text('text,label\n"two\nlines",1\nbad\n')
    with pytest.raises(DataError, match="line 4: expected 2 columns"):
        list(read_records(p))


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="unknown file format '.parquet'"):
        read_records(tmp_path / "a.parquet")
    with pytest.raises(DataError, match="file not found"):
        list(read_records(tmp_path / "nope.jsonl"))


def test_jsonl_strings_may_hold_unicode_line_separators(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"text": "a\u2028b\u0085c\u2029d"}, ensure_ascii=False) + "\n{\"text\": \"e\"}\n",
                    encoding="utf-8")
    assert [(n, r["text"]) for n, r in read_jsonl(path)] == [(1, "a\u2028b\u0085c\u2029d"), (2, "e")]
