"""Turning one file into a manifest entry: whole files are hashed and copied, row files are
split into rows, new rows go into a pack, and groups unchanged since the previous version
are reused without being split, parsed or hashed again.

A row file that can be rebuilt byte for byte from its rows is named by ``packs.rows_digest``
over its groups, so a re-add hashes only the groups it could not prove unchanged.
"""

from __future__ import annotations

import ctypes
import hashlib
import mmap
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ondo.blobs import BlobStore, digest_bytes
from ondo.blobs.direct import DirectAppender
from ondo.datasets.manifest import FileEntry
from ondo.datasets.packs import (
    CHUNK_ROWS,
    Group,
    GroupRule,
    RowIndex,
    RowList,
    body_pack_name,
    load_group,
    load_index,
    rows_digest,
)
from ondo.datasets.rows import (
    DIALECTS,
    BadRow,
    FileBytes,
    Layout,
    canonical_row,
    json_loader,
    next_record,
    parse_delimited_row,
    parse_json_row,
    read_header,
)
from ondo.datasets.workers import scan_lines_parallel
from ondo.errors import InvalidInput

_READ = 1 << 20
_MAX_BAD_SAMPLES = 10
_SPECULATE = 32  # groups checked at once
_HASH_THREADS = 2
_GROUP_THREADS = 4


def store_whole(blobs: BlobStore, path: str) -> str:
    """Hash and store a file in one read: copy to a temporary blob while hashing, then rename."""
    if not blobs.local:
        digest = _digest_path(path)
        blobs.put_file(path, digest)
        return digest
    tmp = blobs.local_tmp()
    h = hashlib.sha256()
    try:
        with open(path, "rb") as src:
            dst = DirectAppender(tmp)  # past the page cache: see blobs.direct
            try:
                while chunk := src.read(_READ):
                    h.update(chunk)
                    dst.write(chunk)
                dst.close()
            finally:
                dst.abort()  # after close() it does nothing; after a failure it closes without writing
        digest = "sha256:" + h.hexdigest()
        blobs.adopt(tmp, digest)
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


@dataclass(slots=True)
class _NewRow:
    digest: bytes
    start: int
    end: int
    next: int
    line: int
    lines: int


@dataclass
class _Walk:
    # ('chunk', j, 0): old group j as it was | ('new', first, count): a new group of rows new[first:first+count]
    pieces: list[tuple[str, int, int]] = field(default_factory=list)
    new: list[_NewRow] = field(default_factory=list)
    bad: list[dict[str, Any]] = field(default_factory=list)
    bad_count: int = 0
    lossless: bool = True
    newline: bytes | None = None
    keysets: dict[tuple[str, ...], None] = field(default_factory=dict)
    growing: bool = False  # the last piece is a new group still taking rows

    def add_new(self, row: _NewRow) -> None:
        if self.growing:
            kind, first, count = self.pieces[-1]
            self.pieces[-1] = (kind, first, count + 1)
        else:
            self.pieces.append(("new", len(self.new), 1))
            self.growing = True
        self.new.append(row)

    def cut(self) -> None:
        """The new group being filled ends here (``GroupRule``)."""
        self.growing = False


def ingest_text_rows(
    blobs: BlobStore,
    *,
    data: FileBytes,
    rel: str,
    fmt: str,
    display: str,
    base: FileEntry | None,
    skip_bad: bool,
    parallel: bool = True,
) -> FileEntry:
    """Store a JSONL/CSV/TSV file as rows; ``base`` is the same path in the previous version;
    ``parallel``: a big file may be scanned in forked worker processes (only from an add's main thread)."""
    entry = _ingest_text_rows(
        blobs, data=data, rel=rel, fmt=fmt, display=display, base=base, skip_bad=skip_bad, parallel=parallel
    )
    if entry.layout is None:  # not rebuildable from its rows: keep the file as it is
        entry.digest = blobs.put_bytes(bytes(data), entry.digest or None)
    return entry


def _ingest_text_rows(
    blobs: BlobStore,
    *,
    data: FileBytes,
    rel: str,
    fmt: str,
    display: str,
    base: FileEntry | None,
    skip_bad: bool,
    parallel: bool = True,
) -> FileEntry:
    rule = GroupRule(CHUNK_ROWS)
    whole = ""  # the file's sha256, when known along the way
    try:
        prefix, columns, pos = read_header(data, fmt)
    except BadRow as exc:
        raise InvalidInput(str(exc), file=display, line=1) from None
    base_index: RowIndex | None = None
    if (
        base is not None and base.kind == "rows" and base.format == fmt and base.layout is not None
        and base.layout.prefix == prefix and base.rows is not None
    ):
        base_index = load_index(blobs, base.rows)
        if base_index.rule != rule.avg_rows:
            base_index = None  # cut otherwise (older stores): its groups cannot be reused as they are
    base_newline = base.layout.newline if base is not None and base.layout is not None else b"\n"
    groups = base_index.groups if base_index is not None else []
    line0 = prefix.count(b"\n") + 1
    if base_index is None and fmt != "csv":
        data = data if isinstance(data, bytes) else bytes(data)  # one snapshot for the scan, the hashes, the pack
        walk, index, pack = _fresh_lines(blobs, data, pos, fmt, line0, columns, skip_bad, display, rule, prefix, parallel)
        lossless = walk.lossless
        if not lossless and pos == 0:
            whole = pack  # the body is the whole file, already hashed (and stored) under its sha256
    else:
        old = _OldBytes(blobs) if base_index is not None and blobs.local else None
        try:
            with ThreadPoolExecutor(_HASH_THREADS, thread_name_prefix="ondo-match") as hasher:
                walk = _walk(data, pos, fmt, line0, groups, base_newline, columns, skip_bad, display, rule, hasher, old)
        finally:
            if old is not None:
                old.close()
        covered = sum(groups[a].span for kind, a, _ in walk.pieces if kind == "chunk")
        covered += sum(r.next - r.start for r in walk.new)
        lossless = walk.lossless and covered == len(data) - pos
        index = _store_rows(blobs, data, walk, base_index, lossless, rule)
    newline = walk.newline or base_newline
    final_newline = len(data) > pos and data[len(data) - len(newline) :] == newline
    if fmt == "jsonl":
        seen = dict.fromkeys(base.columns) if base_index is not None and base is not None else {}
        for ks in walk.keysets:
            seen.update(dict.fromkeys(ks))
        columns = list(seen)
    layout = Layout(prefix, newline, final_newline) if lossless else None
    digest = rows_digest(rule, prefix, [g.hash for g in index.groups if g.hash is not None]) if lossless else whole
    return FileEntry(
        path=rel, size=len(data), digest=digest, kind="rows", format=fmt, rows=put_small(blobs, index.encode()),
        row_count=index.count, columns=columns, layout=layout, bad_rows=walk.bad_count, bad_samples=walk.bad,
    )


def _chunk_at(mv: memoryview, n: int, pos: int, g: Group, known: bool = False, last: bool = False) -> bool:
    """Whether group ``g``'s bytes are at ``pos``; ``known``: they are (compared with the old file);
    ``last``: ``g`` ended the old file, where the file ended rather than where the rule cut, so it
    is taken only where it ends this file too."""
    end = pos + g.span
    if g.hash is None or end > n or g.span == 0 or (last and end != n):
        return False
    return known or hashlib.sha256(mv[pos:end]).digest() == g.hash


class _OldBytes:
    """The previous version's bytes of a group, where they still lie back to back in a pack (a first
    add stores a line file's body as its row pack, and later versions keep the groups they did not
    change): comparing them with the file runs at memory speed, where hashing the group would take
    several times longer. A group without such a copy (one a re-add rebuilt) is checked by its hash."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._maps: dict[str, mmap.mmap | None] = {}
        self._arrays: dict[str, np.ndarray] = {}
        self._out = np.empty(_CMP_WORDS, np.bool_)

    def same(self, g: Group, now: np.ndarray, pos: int) -> bool | None:
        """Whether group ``g``'s old bytes are the file's at ``pos``; None when there is no copy to compare."""
        if g.body is None or g.hash is None:
            return None
        old = self._array(g.body)
        end = pos + g.span
        if old is None or g.body_at + g.span > len(old):
            return None
        if end > len(now):
            return False
        return _equal(now[pos:end], old[g.body_at : g.body_at + g.span], self._out)

    def same_run(self, groups: list[Group], now: np.ndarray, pos: int) -> list[bool | None]:
        """``same`` for groups that would lie back to back from ``pos``, up to the first that differs:
        a stretch of them whose old bytes are back to back too is compared in one go (one call instead
        of one per group: the per-call overhead holds the GIL, which the listing thread is waiting for)."""
        out: list[bool | None] = []
        i = 0
        while i < len(groups):
            g = groups[i]
            k = i + 1
            while (
                k < len(groups) and g.body is not None and groups[k].body == g.body and groups[k].hash is not None
                and groups[k].body_at == groups[k - 1].body_at + groups[k - 1].span
            ):
                k += 1
            if k - i > 1:
                span = sum(x.span for x in groups[i:k])
                old = self._array(g.body) if g.body is not None and g.hash is not None else None
                if old is not None and g.body_at + span <= len(old) and pos + span <= len(now) and _equal(
                    now[pos : pos + span], old[g.body_at : g.body_at + span], self._out
                ):
                    out.extend([True] * (k - i))
                    pos += span
                    i = k
                    continue
            for x in groups[i:k]:  # one at a time: the one that differs is among them
                v = self.same(x, now, pos)
                out.append(v)
                if v is False:
                    return out
                pos += x.span
            i = k
        return out

    def _array(self, pack: str) -> np.ndarray | None:
        arr = self._arrays.get(pack)
        if arr is None and pack not in self._maps:
            try:
                with open(self.blobs.path_of(pack), "rb") as f:
                    # read in one pass by the kernel rather than a page fault at a time
                    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
                    m: mmap.mmap | None = mmap.mmap(f.fileno(), 0, flags=flags, prot=mmap.PROT_READ)
            except (FileNotFoundError, ValueError, OSError):
                m = None
            self._maps[pack] = m
            if m is not None:
                arr = self._arrays[pack] = np.frombuffer(m, np.uint8)
        return arr

    def close(self) -> None:
        self._arrays.clear()  # no exported views may outlive a map
        for m in self._maps.values():
            if m is not None:
                m.close()
        self._maps.clear()


_CMP_WORDS = 1 << 19  # 4 MB compared per numpy call


def _libc_memcmp() -> Any:
    """The C library's ``memcmp`` (through ctypes, which lets go of the GIL for the call), or None
    where the running program does not export it (Windows)."""
    try:
        f = ctypes.CDLL(None).memcmp
    except (OSError, AttributeError, TypeError):
        return None
    f.restype = ctypes.c_int
    f.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
    return f


_MEMCMP = _libc_memcmp()


def _equal(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> bool:
    """Two byte arrays of one length are equal. With the C library's memcmp: one pass, no
    temporary, the GIL let go (the listing thread runs meanwhile); 198 MB in 15 ms here, against
    20 ms for numpy, which compares into a buffer and then scans it, and takes the GIL back for each
    4 MB (beside the listing, the ingest ahead took 26 ms instead of 40). Otherwise numpy 8 bytes at
    a time, into ``out`` (``_CMP_WORDS`` booleans) used again and again: a fresh temporary array
    per call is fresh memory, which this VM backs slowly (see BENCHMARKS.md)."""
    if len(a) != len(b):
        return False
    if _MEMCMP is not None and a.flags.c_contiguous and b.flags.c_contiguous:
        return len(a) == 0 or _MEMCMP(a.ctypes.data, b.ctypes.data, len(a)) == 0
    out = np.empty(_CMP_WORDS, np.bool_) if out is None else out
    w = len(a) // 8
    wa, wb = a[: 8 * w].view(np.uint64), b[: 8 * w].view(np.uint64)
    for i in range(0, w, len(out)):
        j = min(i + len(out), w)
        o = out[: j - i]
        np.not_equal(wa[i:j], wb[i:j], out=o)
        if o.any():
            return False
    return bool(np.array_equal(a[8 * w :], b[8 * w :]))


_BULK_BYTES = 4 << 20  # the most JSON lines walked at once (a group is about 1 MB)


@dataclass
class _Lines:
    """A window of JSON lines from a cut on, split, hashed and cut in bulk."""

    rows: list[bytes]
    digests: list[bytes]
    ends: list[int]  # where each row's bytes end, terminator included, from the window's start
    cuts: list[int]  # group ends (exclusive row indexes) the rule makes; the last may be the window's end
    eof: bool  # the window runs to the end of the file


def _bulk_lines(data: FileBytes, pos: int, rule: GroupRule, window: int) -> _Lines | None:
    """The JSON lines in ``window`` bytes from ``pos`` (a cut), or None when they hold anything the
    row-by-row walk must see: a carriage return, a blank line, or no line end at all."""
    n = len(data)
    end = min(n, pos + window)
    if end < n:
        end = data.rfind(b"\n", pos, end) + 1
        if end <= pos:
            return None
    buf = data[pos:end]
    if b"\r" in buf:
        return None
    rows = buf.split(b"\n")
    if rows[-1] == b"":
        rows.pop()
    if not rows or not all(map(bytes.strip, rows)):
        return None
    sha = hashlib.sha256
    digests = [sha(r).digest() for r in rows]
    ends = np.cumsum(np.fromiter(map(len, rows), np.int64, len(rows)) + 1)
    ends[-1] = min(int(ends[-1]), end - pos)  # an unterminated last line of the file
    return _Lines(rows, digests, ends.tolist(), rule.cuts(b"".join(digests), ends), end == n)


def _walk(
    data: FileBytes, pos: int, fmt: str, line: int, chunks: list[Group], base_newline: bytes,
    columns: list[str], skip_bad: bool, display: str, rule: GroupRule, hasher: ThreadPoolExecutor | None = None,
    old: _OldBytes | None = None,
) -> _Walk:
    """Split ``data`` from ``pos`` into the old groups still in it and new groups of rows.

    Old groups are looked for only where the rule cuts the new rows (and at the start): they
    were cut by the same rule, so from a common cut on, equal rows are grouped alike."""
    w = _Walk()
    now = np.frombuffer(data, np.uint8)  # the file, for comparisons with old bytes (freed on return)
    last = len(chunks) - 1
    count = span = 0  # rows and bytes of the new group being filled
    mv = memoryview(data)
    n = len(data)
    first: dict[bytes, list[int]] = {}
    for j, g in enumerate(chunks):
        if g.hash is not None:
            first.setdefault(g.first, []).append(j)
    expect = 0
    fast = bool(first)
    dialect = DIALECTS.get(fmt)
    bulk = dialect is None and base_newline == b"\n" and not skip_bad  # JSON lines: walked a window at a time
    sha = hashlib.sha256
    keysets = w.keysets
    while pos < n:
        if fast and expect < len(chunks):
            # Check the next groups where they would be if nothing moved, several at once on other
            # cores (hashlib lets go of the GIL); take them up to the first that does not match.
            run: list[tuple[int, int]] = []
            at = pos
            for j in range(expect, min(expect + _SPECULATE, len(chunks))):
                run.append((j, at))
                at += chunks[j].span
            # compared with their old bytes where those are kept, up to the first that differs
            verdicts = old.same_run([chunks[j] for j, _ in run], now, pos) if old is not None else [None] * len(run)
            del run[len(verdicts) :]
            unsure = [ja for ja, v in zip(run, verdicts, strict=True) if v is None]
            hashed = iter(
                list(hasher.map(lambda ja: _chunk_at(mv, n, ja[1], chunks[ja[0]], last=ja[0] == last), unsure))
                if hasher is not None and len(unsure) > 1
                else [_chunk_at(mv, n, a, chunks[j], last=j == last) for j, a in unsure]
            )
            found = [next(hashed) if v is None else v and _chunk_at(mv, n, a, chunks[j], True, j == last)
                     for (j, a), v in zip(run, verdicts, strict=True)]
            for (j, _), ok in zip(run, found, strict=True):
                if not ok:
                    fast = False
                    break
                c = chunks[j]
                w.pieces.append(("chunk", j, 0))
                w.cut()
                pos += c.span
                line += c.lines
                expect = j + 1
                if w.newline is None:
                    w.newline = base_newline
                elif w.newline != base_newline:
                    w.lossless = False
            if fast or pos >= n:
                continue
        if bulk and count == 0:
            taken = _walk_bulk(w, data, pos, line, chunks, first, rule, mv, n, last, now, old, expect)
            if taken is not None:
                pos, line, j = taken
                if j >= 0:  # an old group starts there: take it, and go on fast
                    w.pieces.append(("chunk", j, 0))
                    pos += chunks[j].span
                    line += chunks[j].lines
                    expect = j + 1
                    fast = True
                continue
            bulk = False  # not plain lines here: row by row from now on
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
        for j in first.get(d, ()) if count == 0 else ():  # only where a group may start
            v = old.same(chunks[j], now, pos) if old is not None else None
            if v is not False and _chunk_at(mv, n, pos, chunks[j], bool(v), j == last):
                w.pieces.append(("chunk", j, 0))
                w.cut()
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
        count += 1
        span += rec.next - rec.start
        if rule.closes(count, span, d):
            w.cut()
            count = span = 0
        pos = rec.next
        line += rec.lines
    return w


def _walk_bulk(
    w: _Walk, data: FileBytes, pos: int, line: int, chunks: list[Group], first: dict[bytes, list[int]],
    rule: GroupRule, mv: memoryview, n: int, last: int, now: np.ndarray, old: _OldBytes | None, expect: int,
) -> tuple[int, int, int] | None:
    """New JSON lines from ``pos`` (a cut) taken a window at a time: up to where an old group starts at
    a cut (returned as its index), else up to the window's last cut. The rows are parsed only to
    check them and learn their keys; any row that does not parse to an object leaves the window to
    the row-by-row walk, which reports it with its line. Returns (pos, line, old group or -1)."""
    # about the old group that was expected here: an edit most often leaves the rule's cuts where they
    # were, so the walk meets an old group again after about that many bytes
    hint = chunks[expect].span if expect < len(chunks) else 0
    window = min(_BULK_BYTES, max(_BULK_BYTES // 16, hint + hint // 4))
    while True:
        lines = _bulk_lines(data, pos, rule, window)
        if lines is None:
            return None
        rows, digests, ends, cuts = lines.rows, lines.digests, lines.ends, lines.cuts
        upto, match = 0, -1
        for c in [0, *cuts]:  # an old group may start at any cut, this first row included
            if c >= len(rows):
                if lines.eof:
                    upto = len(rows)
                break
            upto = c
            at = pos + (ends[c - 1] if c else 0)
            for j in first.get(digests[c], ()):
                v = old.same(chunks[j], now, at) if old is not None else None
                if v is not False and _chunk_at(mv, n, at, chunks[j], bool(v), j == last):
                    match = j
                    break
            if match >= 0:
                break
        if upto > 0 or match >= 0 or lines.eof or window >= _BULK_BYTES:
            break
        window = min(_BULK_BYTES, 2 * window)  # no cut in the window: a longer one
    if match >= 0 and upto == 0:
        return pos, line, match  # an old group starts right here
    if upto == 0:
        return None  # a group longer than the longest window: row by row
    loads, errors = json_loader()
    refused: tuple[type[Exception], ...] = (*errors, TypeError)  # malformed, or not an object (dict.keys refuses it)
    try:
        keys = dict.fromkeys(map(tuple, map(dict.keys, map(loads, rows[:upto]))))
    except refused:
        return None
    w.keysets.update(keys)
    if w.newline is None and ends[0] > len(rows[0]):
        w.newline = b"\n"
    base = len(w.new)
    starts = [0, *ends[: upto - 1]]
    w.new.extend(
        _NewRow(digests[i], pos + starts[i], pos + starts[i] + len(rows[i]), pos + ends[i], line + i, 1)
        for i in range(upto)
    )
    prev = 0
    for c in cuts:
        if c > upto:
            break
        w.pieces.append(("new", base + prev, c - prev))
        prev = c
    if prev < upto:  # the end of the file ends the last group
        w.pieces.append(("new", base + prev, upto - prev))
    w.cut()
    return pos + ends[upto - 1], line + upto, match


def _put_known(blobs: BlobStore, data: FileBytes, digest: str) -> str:
    """Store ``data`` whose digest is already known (no second hashing pass on a local store)."""
    if not blobs.local:
        return blobs.put_bytes(data if isinstance(data, bytes) else bytes(data), digest)
    if not os.path.exists(blobs.path_of(digest)):
        tmp = blobs.local_tmp()
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            blobs.adopt(tmp, digest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return digest


def put_small(blobs: BlobStore, data: bytes) -> str:
    """``blobs.put_bytes`` for the many small blobs of an add (row groups, indexes): on a local
    store written with plain file calls, without fsspec's per-call overhead."""
    return _put_known(blobs, data, digest_bytes(data))


def _fresh_lines(
    blobs: BlobStore, data: FileBytes, pos: int, fmt: str, line0: int, columns: list[str], skip_bad: bool,
    display: str, rule: GroupRule, prefix: bytes, parallel: bool = True,
) -> tuple[_Walk, RowIndex, str]:
    """A first add of a line-format file (JSONL, TSV): lines scanned in parallel segments, and the
    file body itself as the pack (rows are found by offset and length; the newlines between them
    cost one byte a row). The pack is named after the file's rows digest, so its bytes are hashed
    once, group by group; they are written meanwhile, under a temporary name (``_EarlyBody``)."""
    body = data if pos == 0 else data[pos:]
    early = _EarlyBody(blobs, body)
    try:
        w, index, pack = _fresh_lines_scan(
            blobs, body, fmt, line0, columns, skip_bad, display, rule, prefix, parallel, not early.written()
        )
        early.place(pack)
    finally:
        early.discard()
    return w, index, pack


class _EarlyBody:
    """A big body written to a temporary blob on another thread while its lines are scanned (the
    calling process only waits for its workers then), and put in place once its name is known."""

    def __init__(self, blobs: BlobStore, body: FileBytes) -> None:
        self.blobs = blobs
        self.tmp: str | None = None
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        if blobs.local and len(body) >= _EARLY_BODY_BYTES:
            self.tmp = blobs.local_tmp()
            self.thread = threading.Thread(target=self._write, args=(body,), name="ondo-body")
            self.thread.start()

    def _write(self, body: FileBytes) -> None:
        assert self.tmp is not None
        try:
            with open(self.tmp, "wb") as f:
                f.write(body)
        except BaseException as exc:  # raised again by place()
            self.error = exc

    def written(self) -> bool:
        """Whether the body was written here (else the caller stores it)."""
        return self.thread is not None

    def place(self, pack: str) -> None:
        if self.thread is None:
            return
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.tmp is not None
        if pack:
            self.blobs.adopt(self.tmp, pack)
            self.tmp = None

    def discard(self) -> None:
        if self.thread is not None:
            self.thread.join()
        if self.tmp is not None and os.path.exists(self.tmp):
            os.unlink(self.tmp)
        self.tmp = None


_EARLY_BODY_BYTES = 16 << 20


def _fresh_lines_scan(
    blobs: BlobStore, body: FileBytes, fmt: str, line0: int, columns: list[str], skip_bad: bool, display: str,
    rule: GroupRule, prefix: bytes, parallel: bool, write_body: bool = True,
) -> tuple[_Walk, RowIndex, str]:
    w = _Walk()
    dig_parts: list[bytes] = []
    skipped: list[int] = []
    crlf: list[int] = []
    lens_parts: list[np.ndarray] = []
    n = 0
    scans = scan_lines_parallel(body, fmt, columns, skip_bad, parallel)
    for sc in scans:
        if sc.error is not None:
            raise InvalidInput(sc.error[1], file=display, line=line0 + n + sc.error[0])
        dig_parts.append(sc.digests)
        skipped.extend(n + i for i in sc.skipped)
        crlf.extend(n + i for i in sc.crlf)
        for i, msg in sc.bad:
            if len(w.bad) < _MAX_BAD_SAMPLES:
                w.bad.append({"line": line0 + n + i, "error": msg})
        w.bad_count += sc.bad_count
        w.keysets.update(dict.fromkeys(sc.keysets))
        lens_parts.append(np.frombuffer(sc.lens, np.int64))
        n += sc.n
    terminated = n if scans[-1].final else n - 1
    sha = hashlib.sha256
    w.newline = b"\r\n" if crlf else b"\n"
    w.lossless = not skipped and len(crlf) in (0, terminated)

    lens = np.concatenate(lens_parts) if lens_parts else np.zeros(0, np.int64)
    starts = np.zeros(n + 1, np.int64)
    np.cumsum(lens + 1, out=starts[1:])
    starts[n] = len(body)
    row_len = lens.copy()
    if crlf:
        row_len[np.asarray(crlf, np.int64)] -= 1
    keep = np.delete(np.arange(n), np.asarray(skipped, np.int64)) if skipped else np.arange(n)
    offsets = starts[keep].astype(np.uint64)
    lengths = row_len[keep].astype(np.uint32)
    raw_digs = b"".join(dig_parts)
    kept = len(raw_digs) // 32
    digests = np.frombuffer(raw_digs, "S32") if kept else np.zeros(0, "S32")
    mv = memoryview(body)
    lossless = w.lossless
    ends = rule.cuts(raw_digs, starts[keep + 1])
    spans = list(zip([0, *ends], ends, strict=False))

    # Hashing, file writes and creating the group blobs let go of the GIL, so several threads share
    # them: a lossless file's groups are hashed first, because they name the pack the groups point to.
    with ThreadPoolExecutor(_GROUP_THREADS, thread_name_prefix="ondo-groups") as pool:
        hashes = list(pool.map(lambda ce: sha(mv[int(starts[ce[0]]) : int(starts[ce[1]])]).digest(), spans)) if lossless else []
        if not kept:
            pack = ""
        elif lossless:
            pack = body_pack_name(rows_digest(rule, prefix, hashes))
        else:
            pack = digest_bytes(body)

        def group(ce: tuple[int, int]) -> Group:
            c, e = ce
            rl = RowList(digests[c:e], np.zeros(e - c, np.uint32), offsets[c:e], lengths[c:e], [pack])
            entries = put_small(blobs, rl.encode_group())
            first = raw_digs[32 * c : 32 * c + 32]
            return Group(c, e - c, entries, first)

        stored = pool.submit(_put_known, blobs, body, pack) if kept and write_body else None
        groups = list(pool.map(group, spans))
        if lossless:
            groups = [
                Group(g.start, g.count, g.entries, g.first, int(starts[hi] - starts[lo]), hi - lo, h, pack,
                      int(starts[lo]))
                for g, (lo, hi), h in zip(groups, spans, hashes, strict=True)
            ]
        if stored is not None:
            stored.result()
    return w, RowIndex(kept, groups, rule.avg_rows if lossless else None), pack


Loc = tuple[str, int, int]  # (pack digest, offset, length); pack "" is the pack being written
_NEW_PACK = ""


def _known_rows(blobs: BlobStore, groups: list[Group]) -> dict[bytes, Loc]:
    known: dict[bytes, Loc] = {}
    for g in groups:
        grp = load_group(blobs, g.entries)
        for d, pi, o, ln in zip(
            digest_list(grp.digests), grp.pack_idx.tolist(), grp.offsets.tolist(), grp.lengths.tolist(), strict=True
        ):
            known[d] = (grp.packs[pi], o, ln)
    return known


def _place(rows: Sequence[tuple[bytes, bytes | memoryview]], known: dict[bytes, Loc]) -> tuple[list[Loc], list[Any]]:
    """Where each row lives: an existing location, or the end of the new pack (returned as parts)."""
    parts: list[Any] = []
    off = 0
    locs: list[Loc] = []
    for d, raw in rows:
        loc = known.get(d)
        if loc is None:
            loc = (_NEW_PACK, off, len(raw))
            parts.append(raw)
            off += len(raw)
            known[d] = loc
        locs.append(loc)
    return locs, parts


def _save_group(blobs: BlobStore, digests: list[bytes], locs: list[Loc], new_pack: str | None) -> str:
    packs: dict[str, int] = {}
    idx = [packs.setdefault(p if p != _NEW_PACK or new_pack is None else new_pack, len(packs)) for p, _, _ in locs]
    rl = RowList(
        np.frombuffer(b"".join(digests), "S32"), np.array(idx, np.uint32),
        np.array([o for _, o, _ in locs], np.uint64), np.array([n for _, _, n in locs], np.uint32), list(packs),
    )
    return put_small(blobs, rl.encode_group())


def _store_rows(
    blobs: BlobStore, data: FileBytes, w: _Walk, base: RowIndex | None, lossless: bool, rule: GroupRule
) -> RowIndex:
    """Write the new pack and groups; groups the walk matched are reused as they are."""
    known: dict[bytes, Loc] = {}
    if base is not None and w.new:
        # rows of old groups that did not survive whole: an edited or moved row may be among them
        used = {j for kind, j, _ in w.pieces if kind == "chunk"}
        known = _known_rows(blobs, [g for j, g in enumerate(base.groups) if j not in used])
    mv = memoryview(data)
    locs, parts = _place([(r.digest, mv[r.start : r.end]) for r in w.new], known)
    new_pack = blobs.put_bytes(b"".join(parts)) if parts else None
    groups: list[Group] = []
    start = 0
    for kind, a, b in w.pieces:
        if kind == "chunk":
            assert base is not None
            g = base.groups[a]
            groups.append(g.moved(start) if lossless else Group(start, g.count, g.entries, g.first))
            start += g.count
            continue
        rows = w.new[a : a + b]  # one group: the walk cut them by the rule
        entries = _save_group(blobs, [r.digest for r in rows], locs[a : a + b], new_pack)
        if lossless:
            lo, hi = rows[0].start, rows[-1].next
            groups.append(Group(start, len(rows), entries, rows[0].digest, hi - lo, sum(r.lines for r in rows),
                                hashlib.sha256(mv[lo:hi]).digest()))
        else:
            groups.append(Group(start, len(rows), entries, rows[0].digest))
        start += len(rows)
    return RowIndex(start, groups, rule.avg_rows if lossless else None)


def ingest_parquet(blobs: BlobStore, *, path: str, rel: str, display: str, base: FileEntry | None) -> FileEntry:
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
    known: dict[bytes, Loc] = {}
    if base is not None and base.format == "parquet" and base.rows:
        known = _known_rows(blobs, load_index(blobs, base.rows).groups)
    rows = [(hashlib.sha256(raw).digest(), raw) for raw in (canonical_row(r) for r in table.to_pylist())]
    locs, parts = _place(rows, known)
    new_pack = blobs.put_bytes(b"".join(parts)) if parts else None
    groups = []
    for s in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[s : s + CHUNK_ROWS]
        entries = _save_group(blobs, [d for d, _ in chunk], locs[s : s + CHUNK_ROWS], new_pack)
        groups.append(Group(s, len(chunk), entries, chunk[0][0]))
    index = RowIndex(len(rows), groups)
    return FileEntry(
        path=rel, size=os.path.getsize(path), digest=digest, kind="rows", format="parquet",
        rows=put_small(blobs, index.encode()), row_count=index.count, columns=list(table.schema.names), layout=None,
    )
