"""Where a task's documents come from: local files under a data directory, or the Hugging Face hub.

Every row is converted by the task's ``to_doc`` function; a row that cannot be converted (a missing
field, an answer label out of range) raises ``BadRow`` there and is reported with its file and line.
The caller chooses what happens next (``on_bad_row``): ``"stop"`` raises ``InvalidInput``; ``"skip"``
leaves the row out and counts it, so a malformed row is never silently scored.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ondo.errors import InvalidInput, OndoError

Doc = dict[str, Any]
BadRowPolicy = Literal["skip", "stop"]
FileFormat = Literal["jsonl", "json", "csv", "csv_noheader", "tsv", "hellaswag_txt"]


class BadRow(ValueError):
    """Raised by a ``to_doc`` converter: what is wrong with the row, and which field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class RawRow:
    line: int  # 1-based line (or list position for JSON arrays) in the file
    value: Any


@dataclass(frozen=True)
class DocRecord:
    """A converted document with where it came from. ``doc_id`` is its position among the split's good rows."""

    doc_id: int
    doc: Doc
    file: str
    line: int


@dataclass
class SplitData:
    docs: list[DocRecord]
    bad_rows: list[InvalidInput] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256 digest


@dataclass(frozen=True)
class DataSource:
    """Files per split (relative to the data directory) and how to read them; optionally an HF dataset."""

    files: Mapping[str, str]
    format: FileFormat
    to_doc: Callable[[Any], Doc]
    hf_path: str | None = None
    hf_name: str | None = None
    hf_splits: Mapping[str, str] = field(default_factory=dict)
    hf_to_doc: Callable[[Any], Doc] | None = None

    def load(self, split: str, data_dir: Path | None, on_bad_row: BadRowPolicy = "stop") -> SplitData:
        rel = self.files.get(split)
        if rel is not None and data_dir is not None:
            path = data_dir / rel
            if path.exists():
                return _convert(path, read_rows(path, self.format), self.to_doc, on_bad_row)
        # the hub is the source only when no local data directory is in use (offline runs never wait on it)
        if data_dir is None and self.hf_path is not None and split in self.hf_splits and _hub_allowed():
            return self._load_hub(split, on_bad_row)
        where = str(data_dir / rel) if (rel is not None and data_dir is not None) else "(no data directory)"
        hint = f" (or run without a data directory to read {self.hf_path} from the hub)" if self.hf_path else ""
        raise OndoError(
            f"data for split '{split}' not found at {where}{hint}; pass --data-dir or set ONDO_DATA_DIR"
        )

    def _load_hub(self, split: str, on_bad_row: BadRowPolicy) -> SplitData:
        try:
            import datasets
        except ImportError as exc:  # pragma: no cover - extra not installed
            raise OndoError(
                "loading from the Hugging Face hub needs the 'data' extra (pip install ondo[data])"
            ) from exc
        assert self.hf_path is not None
        try:
            ds = datasets.load_dataset(self.hf_path, self.hf_name, split=self.hf_splits[split])
        except Exception as exc:  # network, auth, missing config: one message, no traceback
            raise OndoError(f"could not load Hugging Face dataset {self.hf_path} ({self.hf_name}): {exc}") from exc
        rows = (RawRow(i + 1, dict(r)) for i, r in enumerate(ds))
        conv = self.hf_to_doc or self.to_doc
        label = f"hf://{self.hf_path}/{self.hf_name or ''}/{self.hf_splits[split]}"
        return _convert(label, rows, conv, on_bad_row)


def _hub_allowed() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("1", "true", "True") and os.environ.get(
        "HF_DATASETS_OFFLINE", "0"
    ) not in ("1", "true", "True")


def default_data_dir() -> Path | None:
    """ONDO_DATA_DIR, else ``../shared/data`` from the working directory, else None (hub only)."""
    env = os.environ.get("ONDO_DATA_DIR")
    if env:
        return Path(env)
    for base in (Path.cwd(), Path(__file__).resolve().parents[4]):
        cand = base.parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return None


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def read_rows(path: Path, fmt: FileFormat) -> Iterator[RawRow]:
    """Yield the file's rows with their 1-based line numbers (JSON: list position + 1)."""
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as fh:
            for i, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield RawRow(i, json.loads(line))
                except json.JSONDecodeError as exc:
                    yield RawRow(i, _Malformed(f"invalid JSON: {exc.msg}"))
    elif fmt == "json":
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), [])
        for i, item in enumerate(data, start=1):
            yield RawRow(i, item)
    elif fmt in ("csv", "csv_noheader", "tsv"):
        with open(path, encoding="utf-8-sig", newline="") as fh:
            yield from _read_delimited(fh, fmt)
    elif fmt == "hellaswag_txt":
        yield from _read_hellaswag_txt(path)
    else:  # pragma: no cover
        raise ValueError(f"unknown format {fmt}")


class _Malformed:
    def __init__(self, message: str) -> None:
        self.message = message


def _read_delimited(fh: io.TextIOBase, fmt: str) -> Iterator[RawRow]:
    reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE) if fmt == "tsv" else csv.reader(fh)
    header: list[str] | None = None
    for row in reader:
        line = reader.line_num
        if fmt != "csv_noheader" and header is None:
            header = row
            continue
        if not row:
            continue
        if header is not None:
            if len(row) != len(header):
                yield RawRow(line, _Malformed(f"expected {len(header)} columns, found {len(row)}"))
                continue
            yield RawRow(line, dict(zip(header, row, strict=True)))
        else:
            yield RawRow(line, row)


def _read_hellaswag_txt(path: Path) -> Iterator[RawRow]:
    """klosax/llama.cpp HellaSwag text: 6 lines per task (context, gold label, 4 endings); may be bz2."""
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        lines = fh.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for start in range(0, len(lines), 6):
        block = lines[start : start + 6]
        yield RawRow(start + 1, block)


def _convert(
    path: Path | str, rows: Iterator[RawRow], to_doc: Callable[[Any], Doc], on_bad_row: BadRowPolicy
) -> SplitData:
    out = SplitData(docs=[])
    label = str(path)
    if isinstance(path, Path):
        out.files[label] = file_digest(path)
    for raw in rows:
        try:
            if isinstance(raw.value, _Malformed):
                raise BadRow(raw.value.message)
            doc = to_doc(raw.value)
        except BadRow as exc:
            err = InvalidInput(exc.message, file=label, line=raw.line, field=exc.field)
            if on_bad_row == "stop":
                raise err from None
            out.bad_rows.append(err)
            continue
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            fld = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else None
            msg = f"missing field '{fld}'" if isinstance(exc, KeyError) else f"malformed row: {exc}"
            err = InvalidInput(msg, file=label, line=raw.line, field=fld)
            if on_bad_row == "stop":
                raise err from None
            out.bad_rows.append(err)
            continue
        out.docs.append(DocRecord(len(out.docs), doc, label, raw.line))
    return out


# ---------------------------------------------------------------- converter helpers used by task families
def require(row: Mapping[str, Any], key: str) -> Any:
    if not isinstance(row, Mapping):
        raise BadRow(f"expected an object, found {type(row).__name__}")
    if key not in row or row[key] is None or (isinstance(row[key], str) and row[key] == ""):
        raise BadRow(f"missing field '{key}'", field=key)
    return row[key]


def label_index(value: Any, n: int, *, field: str, base: int = 0) -> int:
    """An answer given as an integer (``base``-based) checked against ``n`` choices."""
    try:
        idx = int(str(value).strip()) - base
    except ValueError:
        raise BadRow(f"answer label {value!r} is not a number", field=field) from None
    if not 0 <= idx < n:
        raise BadRow(f"answer label {value!r} out of range for {n} choices", field=field)
    return idx
