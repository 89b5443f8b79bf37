"""Row indexes, row groups and row packs: how rows are stored without one blob per row.

A *pack* is a blob holding the raw bytes of rows back to back; each add writes one pack per
row file with only the rows no earlier version stored. A *group* blob lists up to
``CHUNK_ROWS`` consecutive rows: each row's digest and where its bytes are (pack, offset,
length). A row file's *index* blob lists its groups in order.

Groups are content-addressed like everything else, so a version that keeps a run of rows
unchanged points at the very same group blob as the version before: a re-add after a
one-row change writes one pack with one row, one group and a new index, nothing else.

Each group also records the sha256 of the bytes its rows occupied in the file (``hash``,
with ``span`` and ``lines``) and its first row's digest. On the next add a group whose bytes
are still in the file is taken whole without splitting, hashing or parsing its rows; that is
what makes a re-add after a small edit cost a fraction of the first add.

Where groups end is decided by the rows themselves (``GroupRule``), not by counting from the
start of the file: an inserted or edited row changes the groups around it and no others, and
equal files always get equal groups. That is what lets a row file's digest be taken over its
groups' hashes (``rows_digest``): a re-add then hashes only the bytes it could not prove
unchanged, instead of the whole file.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ondo.blobs import BlobStore

INDEX_MAGIC_V1 = b"ONDOROWINDEX1\n"  # groups cut every CHUNK_ROWS rows; read, not written
INDEX_MAGIC = b"ONDOROWINDEX2\n"  # groups cut by GroupRule
GROUP_MAGIC = b"ONDOROWGROUP1\n"
# Rows per group, on average. Each group is its own blob (a file): at 1,024 rows a 1M-row file made a
# thousand of them, and creating those took more kernel time than parsing the rows. A re-add redoes
# the group around each edit, so bigger groups cost it only a few milliseconds.
CHUNK_ROWS = 4096
ROWS_DIGEST = "rows:"  # a row file's digest over its groups (``rows_digest``); fits the 71-character digest columns
MAX_GROUP_BYTES = 64 << 20


@dataclass(frozen=True)
class GroupRule:
    """Where a group of rows ends, from the rows alone (content-defined chunking, over rows).

    A group ends after a *marked* row (one whose digest's low bits are zero: one row in
    ``avg_rows / 2``) once it holds ``min_rows`` (``avg_rows / 2``) rows, or when it reaches
    ``max_rows`` rows or ``MAX_GROUP_BYTES`` bytes. Each decision depends only on the rows since the
    previous cut, so two files that share a run of rows after a common cut are cut alike from there
    on. The minimum keeps runs of one repeated marked row from making a group per row, and narrows
    the sizes: with no minimum (marks one in ``avg_rows``) sizes spread geometrically and an edit
    most often lands in a big group, about twice the average; a re-add redoes that group."""

    avg_rows: int  # a power of two

    @property
    def min_rows(self) -> int:
        return max(1, self.avg_rows // 2)

    @property
    def mask(self) -> int:
        return max(1, self.avg_rows // 2) - 1

    @property
    def max_rows(self) -> int:
        return self.avg_rows * 8

    def marked(self, digest: bytes) -> bool:
        return int.from_bytes(digest[:4], "little") & self.mask == 0

    def closes(self, count: int, span: int, digest: bytes) -> bool:
        """A group of ``count`` rows and ``span`` bytes whose last row has ``digest`` ends here."""
        return (count >= self.min_rows and self.marked(digest)) or count >= self.max_rows or span >= MAX_GROUP_BYTES

    def cuts(self, digests: bytes, ends: np.ndarray) -> list[int]:
        """Group ends (exclusive row indexes) for rows with these back-to-back 32-byte digests;
        ``ends[i]``: the byte offset where row ``i`` ends, from where the first group starts.
        The same cuts ``closes`` gives row by row (tests hold the two together)."""
        n = len(digests) // 32
        if n == 0:
            return []
        low = np.frombuffer(digests, "<u4").reshape(n, 8)[:, 0]
        marks = np.flatnonzero((low & np.uint32(self.mask)) == 0)
        ends = np.asarray(ends, np.int64)
        out: list[int] = []
        start = 0
        base = 0
        while start < n:
            k = int(np.searchsorted(marks, start + self.min_rows - 1))
            end = int(marks[k]) + 1 if k < len(marks) else n
            end = min(end, start + self.max_rows, n, int(np.searchsorted(ends, base + MAX_GROUP_BYTES)) + 1)
            out.append(end)
            base = int(ends[end - 1])
            start = end
        return out


def rows_digest(rule: GroupRule, prefix: bytes, hashes: Iterable[bytes]) -> str:
    """A row file's digest: the sha256 over its prefix's hash and its groups' hashes, in order.

    The groups tile the file after the prefix and each hash covers its group's bytes, so equal
    digests mean equal files; the groups are cut by ``rule`` from the rows, so equal files mean
    equal digests. Unlike a plain sha256 of the file, it is not what ``sha256sum`` prints."""
    h = hashlib.sha256(b"ondo rows %d\n" % rule.avg_rows)
    h.update(hashlib.sha256(prefix).digest())
    for x in hashes:
        h.update(x)
    return ROWS_DIGEST + h.hexdigest()


def body_pack_name(file_digest: str) -> str:
    """The pack a first add writes a line file's body to: named after the file's rows digest
    (which fixes its bytes), as a file pack is named after its members."""
    return "pack:" + file_digest.removeprefix(ROWS_DIGEST)


@dataclass(frozen=True)
class Group:
    start: int  # first row index in the file's row list
    count: int  # rows
    entries: str  # digest of the group blob
    first: bytes  # digest of its first row
    span: int = 0  # bytes the rows took in the file, terminators included
    lines: int = 0  # physical lines they took
    hash: bytes | None = None  # sha256 of those bytes; None when the group cannot be matched by bytes
    body: str | None = None  # a pack holding those very bytes back to back (a first add's file body)
    body_at: int = 0  # where in it

    def moved(self, start: int) -> Group:
        return Group(start, self.count, self.entries, self.first, self.span, self.lines, self.hash, self.body,
                     self.body_at)


@dataclass
class RowIndex:
    count: int
    groups: list[Group]
    rule: int | None = None  # GroupRule.avg_rows of its cuts; None: cut by count (old) or not by content

    def encode(self) -> bytes:
        header = {
            "count": self.count,
            "rule": self.rule,
            "groups": [
                [g.start, g.count, g.entries, g.first.hex(), g.span, g.lines, g.hash.hex() if g.hash else None]
                + ([g.body, g.body_at] if g.body is not None else [])
                for g in self.groups
            ],
        }
        return INDEX_MAGIC + json.dumps(header, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> RowIndex:
        if not data.startswith((INDEX_MAGIC, INDEX_MAGIC_V1)):
            raise ValueError("not an ondo row index")
        header: dict[str, Any] = json.loads(data[len(INDEX_MAGIC) :])
        groups = [
            Group(s, c, e, bytes.fromhex(f), sp, ln, bytes.fromhex(h) if h else None, *where)
            for s, c, e, f, sp, ln, h, *where in header["groups"]
        ]
        return cls(int(header["count"]), groups, header.get("rule"))


@dataclass
class RowList:
    """A row file's rows in memory: digest and location of each, packs by index."""

    digests: np.ndarray  # S32
    pack_idx: np.ndarray  # uint32 index into packs
    offsets: np.ndarray  # uint64
    lengths: np.ndarray  # uint32
    packs: list[str]

    def __len__(self) -> int:
        return int(self.digests.shape[0])

    @classmethod
    def empty(cls) -> RowList:
        return cls(np.zeros(0, "S32"), np.zeros(0, np.uint32), np.zeros(0, np.uint64), np.zeros(0, np.uint32), [])

    def encode_group(self) -> bytes:
        """This (small) row list as a group blob; packs listed in order of first use, so equal rows
        at equal locations always give the same bytes."""
        used, first = np.unique(self.pack_idx, return_index=True)
        order = used[np.argsort(first, kind="stable")].tolist()  # pack indexes by first use
        if order == list(range(len(order))):
            local = self.pack_idx  # already numbered by first use (always so with one pack)
        else:
            remap = np.zeros(max(len(self.packs), 1), np.uint32)
            remap[order] = np.arange(len(order), dtype=np.uint32)
            local = remap[self.pack_idx]
        header = json.dumps({"count": len(self), "packs": [self.packs[i] for i in order]},
                            separators=(",", ":")).encode()
        return b"".join([
            GROUP_MAGIC, struct.pack("<Q", len(header)), header,
            np.ascontiguousarray(self.digests, "S32").tobytes(),
            np.ascontiguousarray(local, "<u4").tobytes(),
            np.ascontiguousarray(self.offsets, "<u8").tobytes(),
            np.ascontiguousarray(self.lengths, "<u4").tobytes(),
        ])

    @classmethod
    def decode_group(cls, data: bytes) -> RowList:
        if not data.startswith(GROUP_MAGIC):
            raise ValueError("not an ondo row group")
        pos = len(GROUP_MAGIC)
        (hlen,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        header: dict[str, Any] = json.loads(data[pos : pos + hlen])
        pos += hlen
        n = int(header["count"])
        digests = np.frombuffer(data, "S32", n, pos)
        pos += 32 * n
        pack_idx = np.frombuffer(data, "<u4", n, pos)
        pos += 4 * n
        offsets = np.frombuffer(data, "<u8", n, pos)
        pos += 8 * n
        lengths = np.frombuffer(data, "<u4", n, pos)
        return cls(digests, pack_idx, offsets, lengths, list(header["packs"]))

    @classmethod
    def concat(cls, parts: Iterable[RowList]) -> RowList:
        """Join row lists, merging their pack lists."""
        packs: dict[str, int] = {}
        cols: list[list[np.ndarray]] = [[], [], [], []]
        for p in parts:
            if not len(p):
                continue
            remap = np.array([packs.setdefault(d, len(packs)) for d in p.packs], np.uint32)
            for col, arr in zip(cols, (p.digests, remap[p.pack_idx], p.offsets, p.lengths), strict=True):
                col.append(arr)
        if not cols[0]:
            return cls.empty()
        return cls(
            np.concatenate(cols[0]), np.concatenate(cols[1]).astype(np.uint32),
            np.concatenate(cols[2]).astype(np.uint64), np.concatenate(cols[3]).astype(np.uint32), list(packs),
        )

    def slice(self, start: int, stop: int) -> RowList:
        return RowList(
            self.digests[start:stop], self.pack_idx[start:stop], self.offsets[start:stop],
            self.lengths[start:stop], self.packs,
        )


def load_index(blobs: BlobStore, digest: str) -> RowIndex:
    return RowIndex.decode(blobs.get_bytes(digest))


def load_group(blobs: BlobStore, digest: str) -> RowList:
    return RowList.decode_group(blobs.get_bytes(digest))


def load_rows(blobs: BlobStore, index_digest: str) -> RowList:
    """Every row of a row file (digest and location), in file order."""
    index = load_index(blobs, index_digest)
    return RowList.concat(load_group(blobs, g.entries) for g in index.groups)


def referenced_blobs(blobs: BlobStore, index_digest: str) -> dict[str, str]:
    """Every blob a row index depends on, with its role: the index, its groups, their packs."""
    out = {index_digest: "row index"}
    for g in load_index(blobs, index_digest).groups:
        out[g.entries] = "row group"
        for p in load_group(blobs, g.entries).packs:
            out[p] = "row pack"
    return out


class PackReader:
    """Reads row bytes out of packs; local packs are memory-mapped, remote ones fetched once."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._open: dict[str, Any] = {}

    def pack(self, digest: str) -> Any:
        buf = self._open.get(digest)
        if buf is None:
            if self.blobs.local:
                with open(self.blobs.path_of(digest), "rb") as f:
                    try:
                        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                    except ValueError:  # an empty file cannot be mapped
                        buf = b""
            else:
                buf = self.blobs.get_bytes(digest)
            self._open[digest] = buf
        return buf

    def rows(self, rl: RowList, indices: Iterable[int] | None = None) -> Iterator[bytes]:
        """Raw bytes of the rows of ``rl`` (all, in order, or the given indices)."""
        packs = [self.pack(d) for d in rl.packs]
        idx = rl.pack_idx.tolist()
        off = rl.offsets.tolist()
        ln = rl.lengths.tolist()
        order = range(len(rl)) if indices is None else indices
        for i in order:
            o = off[i]
            yield packs[idx[i]][o : o + ln[i]]

    def close(self) -> None:
        for buf in self._open.values():
            if isinstance(buf, mmap.mmap):
                buf.close()
        self._open.clear()

    def __enter__(self) -> PackReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
