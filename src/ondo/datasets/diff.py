"""Diffing two versions: files added/removed/changed, and rows added/removed/changed.

Rows are compared as multisets of row digests across all row files, so only rows that differ
are ever read. With ``key``, a removed row and an added row with the same key value are one
changed row (with the columns that changed) instead of a removal plus an addition.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ondo.blobs import BlobStore
from ondo.datasets.ingest import digest_list
from ondo.datasets.manifest import FileEntry, Manifest
from ondo.datasets.packs import PackReader, RowList, load_rows
from ondo.datasets.rows import decode_row

SAMPLES = 5


@dataclass
class DatasetDiff:
    a: str
    b: str
    key: str | None
    files_added: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    files_unchanged: int = 0
    rows_added: int = 0
    rows_removed: int = 0
    rows_changed: int = 0
    rows_unchanged: int = 0
    samples: dict[str, list[Any]] = field(default_factory=lambda: {"added": [], "removed": [], "changed": []})

    def __getitem__(self, key: str) -> Any:
        """``d["rows"]["added"]`` reads like the ``--json`` output."""
        return self.to_dict()[key]

    @property
    def identical(self) -> bool:
        return not (self.files_added or self.files_removed or self.files_changed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "key": self.key,
            "identical": self.identical,
            "files": {
                "added": self.files_added,
                "removed": self.files_removed,
                "changed": self.files_changed,
                "unchanged": self.files_unchanged,
            },
            "rows": {
                "added": self.rows_added,
                "removed": self.rows_removed,
                "changed": self.rows_changed,
                "unchanged": self.rows_unchanged,
                "samples": self.samples,
            },
        }


@dataclass(frozen=True)
class _Loc:
    entry: FileEntry
    rl: RowList
    index: int


def _row_lists(blobs: BlobStore, m: Manifest) -> dict[str, tuple[FileEntry, RowList]]:
    out = {}
    for f in m.files:
        if f.kind == "rows" and f.rows:
            out[f.path] = (f, load_rows(blobs, f.rows))
    return out


def _only_in(
    mine: dict[str, tuple[FileEntry, RowList]], theirs: dict[str, tuple[FileEntry, RowList]]
) -> tuple[dict[bytes, list[_Loc]], int]:
    """Rows of ``mine`` missing from ``theirs`` (multiset), by digest; and how many rows were shared."""
    counts: Counter[bytes] = Counter()
    for path, (entry, rl) in theirs.items():
        if path in mine and mine[path][0].rows == entry.rows:
            continue  # identical row list on both sides
        counts.update(digest_list(rl.digests))
    out: dict[bytes, list[_Loc]] = defaultdict(list)
    shared = 0
    for path, (entry, rl) in mine.items():
        if path in theirs and theirs[path][0].rows == entry.rows:
            shared += len(rl)
            continue
        for i, d in enumerate(digest_list(rl.digests)):
            if counts[d] > 0:
                counts[d] -= 1
                shared += 1
            else:
                out[d].append(_Loc(entry, rl, i))
    return out, shared


def _read(reader: PackReader, loc: _Loc) -> dict[str, Any]:
    raw = next(reader.rows(loc.rl, [loc.index]))
    assert loc.entry.format is not None
    try:
        return decode_row(raw, loc.entry.format, loc.entry.columns)
    except (ValueError, UnicodeDecodeError):
        return {"_raw": raw.decode("utf-8", "replace")}


def _key_of(row: dict[str, Any], key: str) -> str | None:
    if key not in row or row[key] is None:
        return None
    v = row[key]
    return json.dumps(v, sort_keys=True, ensure_ascii=False) if not isinstance(v, str) else v


def _same_file(
    a: FileEntry, b: FileEntry, rows_a: tuple[FileEntry, RowList] | None, rows_b: tuple[FileEntry, RowList] | None
) -> bool:
    """Equal digests, or for a row file named one way in an older version (the sha256 of its bytes) and
    the other way now (its rows digest), equal rows in an equal layout: the same bytes either way."""
    if a.digest == b.digest:
        return True
    if a.digest.partition(":")[0] == b.digest.partition(":")[0] or rows_a is None or rows_b is None:
        return False
    if a.layout is None or a.layout != b.layout or a.size != b.size:
        return False
    ra, rb = rows_a[1], rows_b[1]
    return len(ra) == len(rb) and bool(np.array_equal(ra.digests, rb.digests))


def diff(blobs: BlobStore, a_ref: str, a: Manifest, b_ref: str, b: Manifest, key: str | None = None) -> DatasetDiff:
    out = DatasetDiff(a_ref, b_ref, key)
    fa, fb = a.by_path(), b.by_path()
    out.files_added = sorted(set(fb) - set(fa))
    out.files_removed = sorted(set(fa) - set(fb))
    both = sorted(set(fa) & set(fb))
    ra, rb = _row_lists(blobs, a), _row_lists(blobs, b)
    out.files_changed = [p for p in both if not _same_file(fa[p], fb[p], ra.get(p), rb.get(p))]
    out.files_unchanged = len(both) - len(out.files_changed)

    removed, shared = _only_in(ra, rb)
    added, _ = _only_in(rb, ra)
    out.rows_unchanged = shared
    with PackReader(blobs) as reader:
        rem_locs = [loc for locs in removed.values() for loc in locs]
        add_locs = [loc for locs in added.values() for loc in locs]
        rem_locs.sort(key=lambda x: (x.entry.path, x.index))
        add_locs.sort(key=lambda x: (x.entry.path, x.index))
        if key is None:
            out.rows_removed, out.rows_added = len(rem_locs), len(add_locs)
            out.samples["removed"] = [_read(reader, loc) for loc in rem_locs[:SAMPLES]]
            out.samples["added"] = [_read(reader, loc) for loc in add_locs[:SAMPLES]]
            return out
        before: dict[str, list[dict[str, Any]]] = defaultdict(list)
        unkeyed_removed: list[dict[str, Any]] = []
        for loc in rem_locs:
            row = _read(reader, loc)
            k = _key_of(row, key)
            (before[k] if k is not None else unkeyed_removed).append(row)
        added_rows: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for loc in add_locs:
            row = _read(reader, loc)
            k = _key_of(row, key)
            if k is not None and before.get(k):
                old = before[k].pop(0)
                cols = sorted(c for c in set(old) | set(row) if old.get(c) != row.get(c))
                changed.append({"key": row[key], "before": old, "after": row, "columns": cols})
            else:
                added_rows.append(row)
        removed_rows = unkeyed_removed + [r for rows in before.values() for r in rows]
    out.rows_changed = len(changed)
    out.rows_added = len(added_rows)
    out.rows_removed = len(removed_rows)
    out.samples = {"added": added_rows[:SAMPLES], "removed": removed_rows[:SAMPLES], "changed": changed[:SAMPLES]}
    return out
