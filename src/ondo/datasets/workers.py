"""CPU-heavy parts of an add that run in worker processes: hashing+storing whole files, and
scanning (validating and hashing) the lines of a large row file in segments.

Threads are not enough: a row scan is Python code holding the GIL, and whole-file workers
would wait for it between every system call. Worker processes are forked (Linux) so they
start in milliseconds and see the file bytes already read by the parent without copying
them; elsewhere, and for small adds, everything runs in the calling process.
"""

from __future__ import annotations

import hashlib
import mmap
import multiprocessing
import operator
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from ondo.blobs import pack_name
from ondo.blobs.direct import DirectAppender
from ondo.datasets.rows import DIALECTS, BadRow, json_loader, json_reason, parse_delimited_row

# Below these sizes forking costs more than it saves.
MIN_PARALLEL_FILES = 64
MIN_PARALLEL_BYTES = 16 << 20
SEGMENT_BYTES = 8 << 20  # at least; a file is cut into about _SEGMENTS_PER_WORKER per worker
_SEGMENTS_PER_WORKER = 8  # small enough that no worker is left with a long last one
MIN_PARALLEL_SCAN = 64 << 20
_PIECE_BYTES = 256 << 10  # lines split, parsed and hashed at a time (see _scan_clean_json)
_MAX_BAD_SAMPLES = 10
_PACK_BUFFER = 4 << 20  # a pack's write buffer

_SHARED: dict[str, Any] = {}  # set in the parent before forking; children read it
_SHARED_LOCK = threading.Lock()


def can_fork() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def process_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))


def worker_count() -> int:
    return max(2, min(8, os.cpu_count() or 2))


# -- whole files --------------------------------------------------------------------------------
def store_files(url: str, paths: list[str], small: int) -> tuple[list[tuple[str, int, int, int]], str | None]:
    """Store files in the blob store at ``url``: files up to ``small`` bytes go into one pack blob,
    larger ones into their own blobs. Returns (digest, size, hashed_at_ns, offset in the pack or -1)
    per path, and the pack's digest."""
    from ondo.blobs import BlobStore
    from ondo.datasets.ingest import store_whole

    blobs = _SHARED.get("blobs")
    if blobs is None or blobs.url != url:
        blobs = _SHARED["blobs"] = BlobStore(url)
    out = []
    pack = _PackWriter(blobs)
    seen: dict[str, int] = {}
    try:
        for p in paths:
            at = time.time_ns()
            with open(p, "rb", buffering=0) as f:
                size = os.fstat(f.fileno()).st_size
                if size <= small:
                    digest, off = pack.add_file(f, size, p, seen)
                    out.append((digest, size, at, off))
                    continue
            digest = store_whole(blobs, p)
            out.append((digest, os.path.getsize(p), at, -1))
        return out, pack.finish()
    finally:
        pack.discard()


class FileChanged(Exception):
    """A file's size changed while it was read (args: its path); the add reports it."""


class _PackWriter:
    """Appends files to one new pack, named by its members (``blobs.pack_name``): the pack's
    bytes are not hashed a second time."""

    def __init__(self, blobs: Any) -> None:
        self.blobs = blobs
        self.size = 0
        self.members: list[tuple[str, int]] = []
        self.parts: list[bytes] = []
        self.tmp: str | None = None
        self.f: Any = None
        if blobs.local:
            self.tmp = blobs.local_tmp()
            self.f = DirectAppender(self.tmp, _PACK_BUFFER)  # closed in finish/discard; see blobs.direct for why

    def add_file(self, f: Any, size: int, path: str, seen: dict[str, int]) -> tuple[str, int]:
        """Append the ``size`` bytes of the open file ``f`` (read straight into the write buffer
        and hashed on the way), unless a file with the same bytes is in the pack already (``seen``:
        digest -> offset); returns (digest, offset)."""
        if self.f is None:  # not a local store: through a bytes object
            data = f.readall()  # (one read call may return less than asked on some file systems)
            if len(data) != size:
                raise FileChanged(path)
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            if digest not in seen:
                seen[digest] = self.add(data, digest)
            return digest, seen[digest]
        h = hashlib.sha256()
        mark = self.f.written
        if self.f.read_from(f, size, h.update) != size or f.read(1):
            raise FileChanged(path)  # the pack is discarded with the add
        digest = "sha256:" + h.hexdigest()
        off = seen.get(digest)
        if off is not None and self.f.drop_to(mark):
            return digest, off  # the same bytes are in the pack already: the copy just read goes
        # (a copy that was partly written out stays, as a member of its own, never looked up)
        self.members.append((digest, size))
        self.size += size
        return digest, seen.setdefault(digest, mark)

    def add(self, data: bytes, digest: str) -> int:
        """Append ``data`` (whose digest is ``digest``); returns its offset in the pack."""
        off = self.size
        if self.f is not None:
            self.f.write(data)
        else:
            self.parts.append(data)
        self.members.append((digest, len(data)))
        self.size += len(data)
        return off

    def finish(self) -> str | None:
        if not self.members:
            return None
        digest = pack_name(self.members)
        if self.f is None:
            return self.blobs.put_bytes(b"".join(self.parts), digest)
        f, self.f = self.f, None
        f.close()  # on failure the file is left to discard(), which removes it
        assert self.tmp is not None
        self.blobs.adopt(self.tmp, digest)
        self.tmp = None
        return digest

    def discard(self) -> None:
        """Let go of an unfinished pack and remove its file."""
        try:
            if self.f is not None:
                f, self.f = self.f, None
                f.abort()
        finally:
            if self.tmp is not None and os.path.exists(self.tmp):
                os.unlink(self.tmp)


# -- row lines ----------------------------------------------------------------------------------
@dataclass
class LineScan:
    """What one pass over a run of lines found; line indexes are relative to the run."""

    n: int = 0
    lens: bytes = b""  # int64 line lengths (terminator excluded, CR included)
    digests: bytes = b""  # 32-byte digests of the kept rows, in order, back to back (one object to pickle)
    skipped: list[int] = field(default_factory=list)  # blank or bad lines
    crlf: list[int] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)  # first samples
    bad_count: int = 0
    keysets: list[tuple[str, ...]] = field(default_factory=list)
    error: tuple[int, str] | None = None  # first bad line when bad rows are not skipped
    final: bool = True  # the run ended with a newline


def scan_lines(body: bytes, fmt: str, columns: list[str], skip_bad: bool) -> LineScan:
    """Validate and hash every line of ``body`` (JSONL objects or TSV records)."""
    out = LineScan()
    if fmt == "jsonl" and b"\r" not in body and _scan_clean_json(body, out):
        return out
    lines = body.split(b"\n")
    out.final = lines[-1] == b""
    if out.final:
        lines.pop()
    out.n = len(lines)
    _scan_each(lines, fmt, columns, skip_bad, out)
    return out


def _scan_clean_json(body: bytes, out: LineScan) -> bool:
    """The common case, with no Python code per line: LF-only lines (the caller saw no CR), none
    blank, each one a JSON object. Every line is still parsed on its own (``map`` over the
    parser), so what passes here is exactly what the line-by-line loop accepts. False (and
    ``out`` untouched) sends the run to that loop, which finds and reports the odd lines. A blank
    or whitespace-only line fails to parse, so it needs no check of its own.

    The body goes a piece of about ``_PIECE_BYTES`` at a time: a million lines split at once
    are a million objects in fresh memory, and faulting that memory in cost a fifth of the scan;
    a piece's lines reuse the memory the previous piece's let go."""
    loads, json_errors = json_loader()
    refused: tuple[type[Exception], ...] = (*json_errors, TypeError)
    sha = hashlib.sha256
    keysets: dict[tuple[str, ...], None] = {}
    digests: list[bytes] = []
    lens: list[np.ndarray] = []
    n = 0
    pos = 0
    end = len(body)
    while pos < end:
        nl = body.find(b"\n", pos + _PIECE_BYTES)
        stop = end if nl < 0 else nl + 1
        lines = body[pos:stop].split(b"\n")
        if lines[-1] == b"":
            lines.pop()  # the piece ended with a newline (the body's last one may not)
        pos = stop
        try:
            # each parsed row is dropped as soon as its keys are taken: holding a piece's dicts
            # would cost memory for nothing; dict.keys refuses anything but an object
            keysets.update(dict.fromkeys(map(tuple, map(dict.keys, map(loads, lines)))))
        except refused:
            return False
        digests.append(b"".join(map(_digest_of, map(sha, lines))))
        lens.append(np.fromiter(map(len, lines), np.int64, len(lines)))
        n += len(lines)
    out.n = n
    out.final = body[-1:] in (b"\n", b"")
    out.digests = b"".join(digests)
    out.lens = np.concatenate(lens).tobytes() if lens else b""
    out.keysets = list(keysets)
    return True


_digest_of = operator.methodcaller("digest")


def _scan_each(lines: list[bytes], fmt: str, columns: list[str], skip_bad: bool, out: LineScan) -> None:
    """Line by line: CRLF, blank and bad lines, TSV records."""
    n = out.n
    terminated = n if out.final else n - 1
    dialect = DIALECTS.get(fmt)
    sha = hashlib.sha256
    loads, json_errors = json_loader()
    keysets: dict[tuple[str, ...], None] = {}
    digs: list[bytes] = []
    skipped = out.skipped
    crlf = out.crlf
    for i, raw in enumerate(lines):
        if raw[-1:] == b"\r" and i < terminated:
            crlf.append(i)
            raw = raw[:-1]
        if not raw or raw.isspace():
            skipped.append(i)
            continue
        try:
            if dialect is None:
                try:
                    obj = loads(raw)
                except json_errors as exc:
                    raise BadRow(f"malformed JSON: {json_reason(exc)}") from None
                if type(obj) is not dict:
                    raise BadRow(f"expected a JSON object, got {type(obj).__name__}")
                keysets[tuple(obj)] = None
            else:
                parse_delimited_row(raw, dialect, columns)
        except BadRow as exc:
            if not skip_bad:
                out.error = (i, str(exc))
                return
            skipped.append(i)
            out.bad_count += 1
            if len(out.bad) < _MAX_BAD_SAMPLES:
                out.bad.append((i, str(exc)))
            continue
        digs.append(sha(raw).digest())
    out.digests = b"".join(digs)
    out.lens = np.fromiter(map(len, lines), np.int64, n).tobytes()
    out.keysets = list(keysets)


def _scan_shared(start: int, end: int, fmt: str, columns: list[str], skip_bad: bool) -> LineScan:
    return scan_lines(_SHARED["body"][start:end], fmt, columns, skip_bad)


def scan_lines_parallel(
    body: bytes | mmap.mmap, fmt: str, columns: list[str], skip_bad: bool, parallel: bool = True
) -> list[LineScan]:
    """``scan_lines`` over newline-aligned segments of ``body``, in forked workers when it pays
    (and ``parallel``: a caller that is not the main thread of an add says False)."""
    if not parallel or len(body) < MIN_PARALLEL_SCAN or not can_fork():
        return [scan_lines(body if isinstance(body, bytes) else bytes(body), fmt, columns, skip_bad)]
    bounds = [0]
    step = max(SEGMENT_BYTES, len(body) // (_SEGMENTS_PER_WORKER * worker_count()))
    while bounds[-1] < len(body):
        nl = body.find(b"\n", bounds[-1] + step)
        bounds.append(len(body) if nl < 0 else nl + 1)
    with _SHARED_LOCK:  # one body at a time: the workers find it in _SHARED
        _SHARED["body"] = body
        try:
            with process_pool(worker_count()) as pool:
                futures = [pool.submit(_scan_shared, a, b, fmt, columns, skip_bad) for a, b in pairwise(bounds)]
                return [f.result() for f in futures]
        finally:
            _SHARED.pop("body", None)
