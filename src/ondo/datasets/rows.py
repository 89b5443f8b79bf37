"""Reading row files: which files hold rows, how a file splits into records, how a record parses.

A row is identified by the sha256 of its raw bytes (the record without its line terminator),
so a file can be rebuilt byte for byte from its rows (see ``Layout``) and an unchanged row has
the same digest in every version. Parquet has no raw records: its rows are identified by a
canonical JSON encoding (``canonical_row``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

BOM = b"\xef\xbb\xbf"

# suffix -> format; files with other suffixes are stored whole.
ROW_FORMATS: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
}
TEXT_FORMATS = ("jsonl", "csv", "tsv")


def format_of(path: str | PurePath) -> str | None:
    """The row format of a file by its suffix, or None for a file stored whole."""
    name = str(path).rpartition("/")[2].rpartition(os.sep)[2]
    stem, dot, suffix = name.rpartition(".")
    return ROW_FORMATS.get("." + suffix.lower()) if dot and stem.strip(".") else None


def row_digest(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


# A text row file's bytes: read into memory, or mapped from the page cache on a re-add. Code that
# takes it uses only what both offer (len, slicing, find, the buffer protocol).
FileBytes = bytes | mmap.mmap


class BadRow(ValueError):
    """A record that does not parse; carries the reason shown to the user."""


try:  # orjson parses JSON lines several times faster; the json module gives the same results
    import orjson as _orjson

    _loads: Any = _orjson.loads

    _JSONError: tuple[type[Exception], ...] = (_orjson.JSONDecodeError, UnicodeDecodeError)
except ImportError:  # pragma: no cover - depends on the installed extras

    def _loads(raw: bytes) -> Any:
        return json.loads(raw)

    _JSONError = (json.JSONDecodeError, UnicodeDecodeError)


def json_loader() -> tuple[Any, tuple[type[Exception], ...]]:
    """The JSON parser in use and the errors it raises (for loops that call it a million times)."""
    return _loads, _JSONError


def json_reason(exc: Exception) -> str:
    return _json_reason(exc)


def parse_json_row(raw: bytes) -> dict[str, Any]:
    """Parse one JSONL record; a row must be a JSON object."""
    try:
        obj = _loads(raw)
    except _JSONError as exc:
        raise BadRow(f"malformed JSON: {_json_reason(exc)}") from None
    if not isinstance(obj, dict):
        raise BadRow(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _json_reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not valid UTF-8"
    msg = str(exc)
    return msg.split(": line ")[0] if ": line " in msg else msg


@dataclass(frozen=True)
class Dialect:
    """How a delimited file splits into fields. TSV is unquoted (IANA TSV); CSV follows RFC 4180."""

    delimiter: str
    quoted: bool


DIALECTS = {"csv": Dialect(",", True), "tsv": Dialect("\t", False)}


def split_fields(raw: bytes, dialect: Dialect) -> list[str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRow("not valid UTF-8") from None
    if not dialect.quoted:
        return text.split(dialect.delimiter)
    try:
        rows = list(csv.reader([text], delimiter=dialect.delimiter, strict=True))
    except csv.Error as exc:
        raise BadRow(f"malformed CSV: {exc}") from None
    return rows[0] if rows else []


def parse_delimited_row(raw: bytes, dialect: Dialect, columns: list[str]) -> list[str]:
    fields = split_fields(raw, dialect)
    if len(fields) != len(columns):
        raise BadRow(f"expected {len(columns)} fields, got {len(fields)}")
    return fields


@dataclass(frozen=True)
class Record:
    """One record of a text row file: content is data[start:end]; the next record begins at ``next``."""

    start: int
    end: int
    next: int
    lines: int  # physical lines the record spans (CSV fields may hold newlines)

    def terminator(self, data: bytes) -> bytes:
        return data[self.end : self.next]


def next_record(data: FileBytes, pos: int, fmt: str) -> Record:
    """The record starting at ``pos``. CSV records end at a newline outside double quotes."""
    n = len(data)
    start = pos
    lines = 0
    quotes = 0
    while True:
        nl = data.find(b"\n", pos)
        seg_end = n if nl < 0 else nl
        nxt = n if nl < 0 else nl + 1
        lines += 1
        if fmt == "csv":
            quotes += data[pos:seg_end].count(b'"')  # sliced: a memory-mapped file has no count()
            if quotes % 2 and nl >= 0:
                pos = nxt
                continue
        end = seg_end
        if end > start and data[end - 1] == 13 and nl >= 0:  # CRLF
            end -= 1
        return Record(start, end, nxt, lines)


def iter_records(data: FileBytes, pos: int, fmt: str) -> Iterator[Record]:
    n = len(data)
    while pos < n:
        rec = next_record(data, pos, fmt)
        yield rec
        pos = rec.next


@dataclass(frozen=True)
class Layout:
    """What a text row file holds besides its rows, so the file can be rebuilt exactly.

    file = prefix + newline.join(rows) + (newline if final_newline). ``prefix`` is a BOM and,
    for CSV/TSV, the header record with its terminator.
    """

    prefix: bytes
    newline: bytes
    final_newline: bool

    def build(self, rows: list[bytes] | Iterator[bytes]) -> bytes:
        rows = list(rows)
        body = self.newline.join(rows)
        if rows and self.final_newline:
            body += self.newline
        return self.prefix + body


def read_header(data: FileBytes, fmt: str) -> tuple[bytes, list[str], int]:
    """Split off the BOM and, for CSV/TSV, the header: (prefix, columns, position after prefix)."""
    pos = len(BOM) if data[: len(BOM)] == BOM else 0
    if fmt not in DIALECTS or pos >= len(data):
        return data[:pos], [], pos
    rec = next_record(data, pos, fmt)
    try:
        columns = split_fields(data[rec.start : rec.end], DIALECTS[fmt])
    except BadRow as exc:
        raise BadRow(f"header: {exc}") from None
    return data[: rec.next], columns, rec.next


def decode_row(raw: bytes, fmt: str, columns: list[str]) -> dict[str, Any]:
    """A stored row as a dict (CSV/TSV values stay strings, as in the file)."""
    if fmt in ("jsonl", "parquet"):
        obj: dict[str, Any] = json.loads(raw)
        return obj
    return dict(zip(columns, split_fields(raw, DIALECTS[fmt]), strict=False))


def canonical_row(row: dict[str, Any]) -> bytes:
    """Stable bytes for a row read from a binary format: sorted keys, UTF-8, compact."""
    return json.dumps(_jsonable(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, bytes):
        return v.hex()
    if hasattr(v, "tolist"):  # numpy arrays and scalars
        return _jsonable(v.tolist())
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)
