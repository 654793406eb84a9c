"""Strict readers for JSONL, CSV and TSV: every problem is reported with its file and line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from leanformer.errors import DataError

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv"}


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise DataError(path, "file not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(path, f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})", line=line) from None
    if not text.strip():
        raise DataError(path, "file is empty")
    return text


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each non-blank line; each line must be a JSON object."""
    path = Path(path)
    # split on line feeds only: str.splitlines() also splits inside strings holding U+2028, U+0085, ...
    for number, line in enumerate(_read_text(path).split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(path, f"malformed JSON ({e.msg} at column {e.colno})", line=number) from None
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", line=number)
        yield number, obj


def read_table(path: str | Path, delimiter: str) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, row)`` for a delimited file with a header row.

    Strict: an unterminated quote is an error (a lenient reader would swallow the rest of the file
    into one cell), and so is a row with the wrong number of columns.
    """
    path = Path(path)
    reader = csv.reader(io.StringIO(_read_text(path), newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except csv.Error as e:
        raise DataError(path, f"malformed header ({e})", line=1) from None
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        raise DataError(path, f"duplicate column names in header {header}", line=1)
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            problem = "unterminated quoted field" if "unexpected end of data" in str(e) else f"malformed row ({e})"
            raise DataError(path, problem, line=start) from None
        if not values:
            continue
        if len(values) != len(header):
            raise DataError(path, f"expected {len(header)} columns ({', '.join(header)}), found {len(values)}",
                            line=reader.line_num)
        yield start, dict(zip(header, values))


def read_records(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Read a ``.jsonl``, ``.csv`` or ``.tsv`` file, choosing the reader from the extension."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(path, f"unknown file format '{path.suffix}'; expected one of {', '.join(sorted(FORMATS))}")
    if fmt == "jsonl":
        return read_jsonl(path)
    return read_table(path, "," if fmt == "csv" else "\t")


def require(record: dict, key: str, path, line: int, types: type | tuple[type, ...] = str):
    """Return ``record[key]``, checking it exists and has the expected type."""
    if key not in record:
        raise DataError(path, f"missing required field (have: {', '.join(sorted(record)) or 'none'})", line=line, field=key)
    value = record[key]
    if not isinstance(value, types) or (types is str and isinstance(value, bool)):
        names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise DataError(path, f"expected {names}, got {type(value).__name__} {value!r:.60}", line=line, field=key)
    return value
