"""Row lists and row packs: how rows are stored without one blob per row.

A version stores each row file's rows as a *row list* blob: for every row its digest and
where its bytes are (pack digest, offset, length). A *pack* is a blob holding the raw bytes
of the rows a version added, back to back. A re-add after a one-row change writes a pack
with that one row and a new row list whose other entries point into the old packs, so
unchanged rows are shared, never copied.

The row list also keeps *chunks*: runs of consecutive rows with the sha256 of their bytes
as they sat in the file. On the next add a chunk whose bytes are still in the file is taken
whole without splitting, hashing or parsing its rows; that is what makes a re-add after a
small edit cost a fraction of the first add.
"""

from __future__ import annotations

import json
import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ondo.blobs import BlobStore

MAGIC = b"ONDOROWS1\n"
CHUNK_ROWS = 1024


@dataclass(frozen=True)
class Chunk:
    start: int  # first row index in the row list
    count: int  # rows
    span: int  # bytes in the file, terminators included
    lines: int  # physical lines in the file
    hash: bytes  # sha256 of those bytes


@dataclass
class RowList:
    digests: np.ndarray  # S32
    pack_idx: np.ndarray  # uint32 index into packs
    offsets: np.ndarray  # uint64
    lengths: np.ndarray  # uint32
    packs: list[str]
    chunks: list[Chunk] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.digests.shape[0])

    @classmethod
    def empty(cls) -> RowList:
        return cls(
            np.zeros(0, "S32"), np.zeros(0, np.uint32), np.zeros(0, np.uint64), np.zeros(0, np.uint32), []
        )

    def encode(self) -> bytes:
        header = json.dumps(
            {
                "count": len(self),
                "packs": self.packs,
                "chunks": [[c.start, c.count, c.span, c.lines, c.hash.hex()] for c in self.chunks],
            },
            separators=(",", ":"),
        ).encode()
        return b"".join(
            [
                MAGIC,
                struct.pack("<Q", len(header)),
                header,
                np.ascontiguousarray(self.digests, "S32").tobytes(),
                np.ascontiguousarray(self.pack_idx, "<u4").tobytes(),
                np.ascontiguousarray(self.offsets, "<u8").tobytes(),
                np.ascontiguousarray(self.lengths, "<u4").tobytes(),
            ]
        )

    @classmethod
    def decode(cls, data: bytes) -> RowList:
        if not data.startswith(MAGIC):
            raise ValueError("not an ondo row list")
        pos = len(MAGIC)
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
        chunks = [Chunk(s, c, sp, ln, bytes.fromhex(h)) for s, c, sp, ln, h in header["chunks"]]
        return cls(digests, pack_idx, offsets, lengths, list(header["packs"]), chunks)

    def pruned(self) -> RowList:
        """Drop packs no row points into any more (the list is inherited from the previous version)."""
        if not len(self):
            return RowList.empty()
        used = np.unique(self.pack_idx)
        if len(used) == len(self.packs):
            return self
        remap = np.zeros(len(self.packs), np.uint32)
        remap[used] = np.arange(len(used), dtype=np.uint32)
        return RowList(
            self.digests, remap[self.pack_idx], self.offsets, self.lengths,
            [self.packs[i] for i in used.tolist()], self.chunks,
        )

    def pack_digests(self) -> list[str]:
        return list(self.packs)


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
                    except ValueError:  # empty file cannot be mapped
                        buf = b""
            else:
                buf = self.blobs.get_bytes(digest)
            self._open[digest] = buf
        return buf

    def rows(self, rl: RowList, indices: Iterator[int] | list[int] | None = None) -> Iterator[bytes]:
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
