"""Turning one file into a manifest entry: whole files are hashed and copied, row files are
split into rows, new rows go into a pack, and chunks unchanged since the previous version
are reused without being split or parsed again.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ondo.blobs import BlobStore, digest_bytes
from ondo.datasets.manifest import FileEntry
from ondo.datasets.packs import CHUNK_ROWS, Chunk, RowList
from ondo.datasets.rows import (
    DIALECTS,
    BadRow,
    Layout,
    canonical_row,
    next_record,
    parse_delimited_row,
    parse_json_row,
    read_header,
)
from ondo.errors import InvalidInput

_READ = 1 << 20
_MAX_BAD_SAMPLES = 10


def store_whole(blobs: BlobStore, path: str) -> str:
    """Hash and store a file in one read: copy to a temporary blob while hashing, then rename."""
    if not blobs.local:
        digest = _digest_path(path)
        blobs.put_file(path, digest)
        return digest
    tmp_dir = os.path.join(blobs.root, "tmp")
    os.makedirs(tmp_dir, exist_ok=True)
    tmp = os.path.join(tmp_dir, uuid.uuid4().hex)
    h = hashlib.sha256()
    try:
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            while chunk := src.read(_READ):
                h.update(chunk)
                dst.write(chunk)
        digest = "sha256:" + h.hexdigest()
        final = blobs.path_of(digest)
        if os.path.exists(final):
            os.unlink(tmp)
        else:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return digest


def _digest_path(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_READ):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def digest_list(arr: np.ndarray) -> list[bytes]:
    """Digests as exact 32-byte strings (numpy's S32 items drop trailing zero bytes)."""
    raw = np.ascontiguousarray(arr, "S32").tobytes()
    return [raw[i : i + 32] for i in range(0, len(raw), 32)]


@dataclass
class _NewRow:
    digest: bytes
    start: int
    end: int
    next: int
    line: int
    lines: int


@dataclass
class _Walk:
    pieces: list[tuple[str, int, int]] = field(default_factory=list)  # ('chunk', j, 0) | ('new', first, count)
    new: list[_NewRow] = field(default_factory=list)
    bad: list[dict[str, Any]] = field(default_factory=list)
    bad_count: int = 0
    lossless: bool = True
    newline: bytes | None = None
    keysets: dict[tuple[str, ...], None] = field(default_factory=dict)

    def add_new(self, row: _NewRow) -> None:
        if self.pieces and self.pieces[-1][0] == "new":
            kind, first, count = self.pieces[-1]
            self.pieces[-1] = (kind, first, count + 1)
        else:
            self.pieces.append(("new", len(self.new), 1))
        self.new.append(row)


def ingest_text_rows(
    blobs: BlobStore,
    *,
    data: bytes,
    rel: str,
    fmt: str,
    display: str,
    base: FileEntry | None,
    skip_bad: bool,
) -> FileEntry:
    """Store a JSONL/CSV/TSV file as rows; ``base`` is the same path in the previous version."""
    digest = digest_bytes(data)
    try:
        prefix, columns, pos = read_header(data, fmt)
    except BadRow as exc:
        raise InvalidInput(str(exc), file=display, line=1) from None
    base_rl: RowList | None = None
    if (
        base is not None and base.kind == "rows" and base.format == fmt and base.layout is not None
        and base.layout.prefix == prefix and base.rows is not None
    ):
        base_rl = RowList.decode(blobs.get_bytes(base.rows))
    base_newline = base.layout.newline if base is not None and base.layout is not None else b"\n"
    walk = _walk(data, pos, fmt, prefix.count(b"\n") + 1, base_rl, base_newline, columns, skip_bad, display)

    newline = walk.newline or (base.layout.newline if base and base.layout else b"\n")
    final_newline = len(data) > pos and data.endswith(newline)
    rl = _assemble(blobs, data, walk, base_rl)
    if fmt == "jsonl":
        seen = dict.fromkeys(base.columns) if base_rl is not None and base is not None else {}
        for ks in walk.keysets:
            seen.update(dict.fromkeys(ks))
        columns = list(seen)
    layout: Layout | None = Layout(prefix, newline, final_newline)
    expected = len(prefix) + int(rl.lengths.sum()) + len(newline) * max(len(rl) - (0 if final_newline else 1), 0)
    if not walk.lossless or expected != len(data):
        layout = None
    if layout is not None:
        rl.chunks = _chunks(data, walk, base_rl)
    else:
        blobs.put_bytes(data)  # not rebuildable from its rows: keep the file as it is
    rows_digest = blobs.put_bytes(rl.encode())
    return FileEntry(
        path=rel, size=len(data), digest=digest, kind="rows", format=fmt, rows=rows_digest,
        row_count=len(rl), columns=columns, layout=layout, bad_rows=walk.bad_count, bad_samples=walk.bad,
    )


def _chunk_at(mv: memoryview, n: int, pos: int, c: Chunk) -> bool:
    end = pos + c.span
    if end > n or c.span == 0:
        return False
    if mv[end - 1] != 10 and end != n:  # a chunk that ended the old file must end this one too
        return False
    return hashlib.sha256(mv[pos:end]).digest() == c.hash


def _walk(
    data: bytes, pos: int, fmt: str, line: int, base_rl: RowList | None, base_newline: bytes,
    columns: list[str], skip_bad: bool, display: str,
) -> _Walk:
    w = _Walk()
    mv = memoryview(data)
    n = len(data)
    chunks = base_rl.chunks if base_rl is not None else []
    first: dict[bytes, list[int]] = {}
    if chunks and base_rl is not None:
        raw = np.ascontiguousarray(base_rl.digests, "S32").tobytes()
        for j, c in enumerate(chunks):
            first.setdefault(raw[32 * c.start : 32 * c.start + 32], []).append(j)
    expect = 0
    fast = bool(chunks)
    dialect = DIALECTS.get(fmt)
    sha = hashlib.sha256
    keysets = w.keysets
    while pos < n:
        if fast and expect < len(chunks):
            c = chunks[expect]
            if _chunk_at(mv, n, pos, c):
                w.pieces.append(("chunk", expect, 0))
                pos += c.span
                line += c.lines
                expect += 1
                if w.newline is None:
                    w.newline = base_newline
                continue
            fast = False
        rec = next_record(data, pos, fmt)
        raw = data[rec.start : rec.end]
        term = data[rec.end : rec.next]
        if term:
            if w.newline is None:
                w.newline = term
            elif term != w.newline:
                w.lossless = False
        if not raw.strip():  # blank line: not a row
            w.lossless = False
            pos = rec.next
            line += rec.lines
            continue
        d = sha(raw).digest()
        matched = False
        for j in first.get(d, ()):
            if _chunk_at(mv, n, pos, chunks[j]):
                w.pieces.append(("chunk", j, 0))
                pos += chunks[j].span
                line += chunks[j].lines
                expect = j + 1
                fast = matched = True
                break
        if matched:
            continue
        try:
            if dialect is None:
                keysets[tuple(parse_json_row(raw))] = None
            else:
                parse_delimited_row(raw, dialect, columns)
        except BadRow as exc:
            if not skip_bad:
                raise InvalidInput(str(exc), file=display, line=line) from None
            w.lossless = False
            w.bad_count += 1
            if len(w.bad) < _MAX_BAD_SAMPLES:
                w.bad.append({"line": line, "error": str(exc)})
            pos = rec.next
            line += rec.lines
            continue
        w.add_new(_NewRow(d, rec.start, rec.end, rec.next, line, rec.lines))
        pos = rec.next
        line += rec.lines
    return w


def _assemble(blobs: BlobStore, data: bytes, w: _Walk, base_rl: RowList | None) -> RowList:
    """Locate every row: reused chunks keep their pack locations; new rows go to one new pack."""
    packs = list(base_rl.packs) if base_rl is not None else []
    new_idx = len(packs)
    known: dict[bytes, tuple[int, int, int]] = {}
    if base_rl is not None and w.new:
        # rows of old chunks that did not survive: an edited or moved row may be one of them
        used = {j for kind, j, _ in w.pieces if kind == "chunk"}
        digs = digest_list(base_rl.digests)
        pidx, offs, lens = base_rl.pack_idx.tolist(), base_rl.offsets.tolist(), base_rl.lengths.tolist()
        ranges = [range(c.start, c.start + c.count) for j, c in enumerate(base_rl.chunks) if j not in used]
        if not base_rl.chunks:
            ranges = [range(len(base_rl))]
        for r in ranges:
            for i in r:
                known[digs[i]] = (pidx[i], offs[i], lens[i])
    mv = memoryview(data)
    parts: list[memoryview] = []
    pack_off = 0
    locs_idx: list[int] = []
    locs_off: list[int] = []
    locs_len: list[int] = []
    for row in w.new:
        loc = known.get(row.digest)
        if loc is None:
            length = row.end - row.start
            loc = (new_idx, pack_off, length)
            parts.append(mv[row.start : row.end])
            pack_off += length
            known[row.digest] = loc
        locs_idx.append(loc[0])
        locs_off.append(loc[1])
        locs_len.append(loc[2])
    if parts:
        packs.append(blobs.put_bytes(b"".join(parts)))
    new_dig = np.frombuffer(b"".join(r.digest for r in w.new), "S32") if w.new else np.zeros(0, "S32")
    new_pidx = np.array(locs_idx, np.uint32)
    new_off = np.array(locs_off, np.uint64)
    new_len = np.array(locs_len, np.uint32)
    cols: list[list[np.ndarray]] = [[], [], [], []]
    for kind, a, b in w.pieces:
        if kind == "chunk":
            assert base_rl is not None
            c = base_rl.chunks[a]
            sl = slice(c.start, c.start + c.count)
            src = (base_rl.digests, base_rl.pack_idx, base_rl.offsets, base_rl.lengths)
        else:
            sl = slice(a, a + b)
            src = (new_dig, new_pidx, new_off, new_len)
        for col, arr in zip(cols, src, strict=True):
            col.append(arr[sl])
    if not w.pieces:
        return RowList.empty()
    rl = RowList(
        np.concatenate(cols[0]).astype("S32"), np.concatenate(cols[1]).astype(np.uint32),
        np.concatenate(cols[2]).astype(np.uint64), np.concatenate(cols[3]).astype(np.uint32), packs,
    )
    return rl.pruned()


def _chunks(data: bytes, w: _Walk, base_rl: RowList | None) -> list[Chunk]:
    """Chunks of the new row list: reused ones as they were, new runs cut every CHUNK_ROWS rows."""
    mv = memoryview(data)
    out: list[Chunk] = []
    row = 0
    for kind, a, b in w.pieces:
        if kind == "chunk":
            assert base_rl is not None
            c = base_rl.chunks[a]
            out.append(Chunk(row, c.count, c.span, c.lines, c.hash))
            row += c.count
            continue
        for g in range(a, a + b, CHUNK_ROWS):
            group = w.new[g : min(g + CHUNK_ROWS, a + b)]
            s, e = group[0].start, group[-1].next
            lines = sum(r.lines for r in group)
            out.append(Chunk(row, len(group), e - s, lines, hashlib.sha256(mv[s:e]).digest()))
            row += len(group)
    return out


def ingest_parquet(
    blobs: BlobStore, *, path: str, rel: str, display: str, base: FileEntry | None, base_rows: RowList | None,
) -> FileEntry:
    """Parquet is binary: keep the file whole, and its rows (canonical JSON) for diffs and profiles."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on extras
        raise InvalidInput("reading Parquet needs pyarrow: pip install 'ondo[data]'", file=display) from exc
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise InvalidInput(f"cannot read Parquet: {exc}", file=display) from None
    digest = blobs.put_file(path)
    rows = [canonical_row(r) for r in table.to_pylist()]
    known: dict[bytes, tuple[int, int, int]] = {}
    packs: list[str] = []
    if base_rows is not None and len(base_rows):
        packs = list(base_rows.packs)
        for d, i, o, n in zip(
            digest_list(base_rows.digests), base_rows.pack_idx.tolist(), base_rows.offsets.tolist(),
            base_rows.lengths.tolist(), strict=True,
        ):
            known[d] = (i, o, n)
    parts: list[bytes] = []
    off = 0
    locs: list[tuple[int, int, int]] = []
    digs: list[bytes] = []
    for raw in rows:
        d = hashlib.sha256(raw).digest()
        loc = known.get(d)
        if loc is None:
            loc = (len(packs), off, len(raw))
            parts.append(raw)
            off += len(raw)
            known[d] = loc
        digs.append(d)
        locs.append(loc)
    if parts:
        packs.append(blobs.put_bytes(b"".join(parts)))
    if rows:
        rl = RowList(
            np.frombuffer(b"".join(digs), "S32"), np.array([x[0] for x in locs], np.uint32),
            np.array([x[1] for x in locs], np.uint64), np.array([x[2] for x in locs], np.uint32), packs,
        ).pruned()
    else:
        rl = RowList.empty()
    return FileEntry(
        path=rel, size=os.path.getsize(path), digest=digest, kind="rows", format="parquet",
        rows=blobs.put_bytes(rl.encode()), row_count=len(rl), columns=list(table.schema.names), layout=None,
    )
