"""The manifest: what a dataset version is. Its sha256 is the version's digest.

A manifest lists every file by relative path. A file stored whole is its content digest; a
row file also names its row list blob, its columns and the layout that rebuilds it from rows.
The encoding is canonical JSON, so the same content always gives the same digest.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _escape
from types import MappingProxyType
from typing import Any

import orjson

from ondo.datasets.rows import Layout

FORMAT = "ondo.dataset/2"  # 2: row files that rebuild exactly are named by packs.rows_digest
_READABLE = ("ondo.dataset/1", FORMAT)
SMALL_FILE = 1 << 20  # whole files up to this size are packed many to a blob (see locations.py)


@dataclass
class FileEntry:
    path: str
    size: int
    digest: str  # sha256 of the file's bytes, or packs.rows_digest for a row file rebuilt from its rows
    kind: str = "file"  # 'file' (stored whole) | 'rows'
    format: str | None = None
    rows: str | None = None  # row list blob
    row_count: int = 0
    columns: list[str] = field(default_factory=list)
    layout: Layout | None = None  # None for row files that are also stored whole
    bad_rows: int = 0
    bad_samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def packed(self) -> bool:
        """A small whole file: its bytes sit in a file pack (or, for old versions, in their own blob)."""
        return self.kind == "file" and self.size <= SMALL_FILE

    @property
    def stored_whole(self) -> bool:
        """True when the file's bytes are a blob (checkout copies it instead of rebuilding it)."""
        return self.kind == "file" or self.layout is None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "size": self.size, "digest": self.digest, "kind": self.kind}
        if self.kind == "rows":
            d.update(format=self.format, rows=self.rows, row_count=self.row_count, columns=self.columns)
            if self.layout is not None:
                d["layout"] = {
                    "prefix": base64.b64encode(self.layout.prefix).decode(),
                    "newline": self.layout.newline.decode(),
                    "final_newline": self.layout.final_newline,
                }
            if self.bad_rows:
                d.update(bad_rows=self.bad_rows, bad_samples=self.bad_samples)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FileEntry:
        lay = d.get("layout")
        layout = (
            Layout(base64.b64decode(lay["prefix"]), lay["newline"].encode(), bool(lay["final_newline"]))
            if lay
            else None
        )
        return cls(
            path=d["path"], size=int(d["size"]), digest=d["digest"], kind=d.get("kind", "file"),
            format=d.get("format"), rows=d.get("rows"), row_count=int(d.get("row_count", 0)),
            columns=list(d.get("columns", [])), layout=layout, bad_rows=int(d.get("bad_rows", 0)),
            bad_samples=list(d.get("bad_samples", [])),
        )


@dataclass
class Manifest:
    files: list[FileEntry]
    # each entry's canonical JSON, by the entry's id, with the entry (so that id stays its own):
    # a re-add of 10,000 files changes one or two, and encodes only those
    _encoded: dict[int, tuple[FileEntry, bytes]] | None = field(default=None, repr=False, compare=False)
    _by_path: Mapping[str, FileEntry] | None = field(default=None, repr=False, compare=False)

    def encode(self, like: Manifest | None = None) -> bytes:
        """Canonical JSON: sorted keys, no spaces, UTF-8 (the bytes ``json.dumps(sort_keys=True,
        separators=(",", ":"), ensure_ascii=False)`` gives, written by orjson, which is 5x faster on
        a 10,000-file manifest; tests/datasets/test_manifest.py holds the two to the same bytes).
        Entries ``like`` (the previous version) already encoded are not encoded again."""
        done = like._encoded if like is not None and like._encoded is not None else {}
        files = sorted(self.files, key=_path)
        parts = [e[1] if (e := done.get(id(f))) is not None and e[0] is f else _entry_json(f) for f in files]
        self._encoded = {id(f): (f, p) for f, p in zip(files, parts, strict=True)}
        return b'{"files":[' + b",".join(parts) + b'],"format":' + orjson.dumps(FORMAT) + b"}"

    @classmethod
    def decode(cls, data: bytes) -> Manifest:
        body = json.loads(data)
        if body.get("format") not in _READABLE:
            raise ValueError(f"unknown manifest format {body.get('format')!r}")
        return cls([FileEntry.from_dict(f) for f in body["files"]])

    def by_path(self) -> Mapping[str, FileEntry]:
        """Entries by path (kept, read-only: a manifest's entries do not change once it is made)."""
        if self._by_path is None:
            self._by_path = MappingProxyType({f.path: f for f in self.files})
        return self._by_path

    @property
    def row_count(self) -> int:
        return sum(f.row_count for f in self.files)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def bad_rows(self) -> int:
        return sum(f.bad_rows for f in self.files)


def _path(f: FileEntry) -> str:
    return f.path


def _entry_json(f: FileEntry) -> bytes:
    """One entry's canonical JSON. A whole file's is formatted here: orjson takes 3 us a call, a
    third of a 10,000-file add's manifest; its strings are escaped as ``json.dumps`` escapes them
    with ``ensure_ascii=False`` (the manifest tests hold the two to the same bytes)."""
    if f.kind == "file" and type(f.size) is int:
        return f'{{"digest":{_escape(f.digest)},"kind":"file","path":{_escape(f.path)},"size":{f.size:d}}}'.encode()
    return orjson.dumps(f.to_dict(), option=orjson.OPT_SORT_KEYS)
