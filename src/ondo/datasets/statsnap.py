"""A folder's stat snapshot: the stat cache of one (folder, dataset) in one local file, by columns.

A re-add of a big folder must tell, for every file, whether it is untouched since the last
version. Asking the stat cache table for 10,000 rows and checking them one by one took 35 ms, as
long as the rest of a re-add after a small edit; this file loads in well under a millisecond and
is checked with array operations. It holds one row per file of the version it was taken for,
in that version's manifest order, and nothing else: the paths and digests are the manifest's.
It is only a faster copy: the table still holds every entry (and serves other folders and
names), and a snapshot that is missing, unreadable or taken for another version than the one
being extended is ignored.
"""

from __future__ import annotations

import hashlib
import operator
import os
import uuid
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ondo.datasets.manifest import FileEntry
from ondo.datasets.scan import ScannedFile
from ondo.datasets.statcache import COARSE_RACY_NS, RACY_NS, host

_MAGIC = b"ondo.statsnap/2\n"  # 1 also held the paths and digests
_INO = (1 << 63) - 1  # inode numbers are unsigned 64-bit; kept in int64 columns


class Known(NamedTuple):
    ok: np.ndarray  # bool per listed file: the snapshot vouches for it
    at: np.ndarray  # per listed file, its entry in the version's manifest (-1: none)
    hashed_at: list[int]  # when a vouched-for file was hashed (-1 where not vouched for)
    stats: np.ndarray  # the listed files' (size, mtime_ns, inode), for ``save``
    in_order: bool  # the listing is the version's files, path for path

    def digests(self, entries: list[FileEntry]) -> list[str | None]:
        """Each listed file's digest where the snapshot vouches for it."""
        if self.in_order:
            return [e.digest if good else None for e, good in zip(entries, self.ok.tolist(), strict=True)]
        return [entries[i].digest if good else None for i, good in zip(self.at.tolist(), self.ok.tolist(), strict=True)]


@dataclass
class Snapshot:
    version: str  # manifest digest of the version these files made
    stat: np.ndarray  # int64 rows: size, mtime_ns, inode, hashed_at_ns; one per manifest entry, in order

    def known(self, files: list[ScannedFile], entries: list[FileEntry]) -> Known:
        """What the snapshot says of each listed file; ``entries``: the manifest of ``version``
        (as ``StatEntry.digest_if_fresh``, a file is vouched for when its stat is unchanged and
        it was not modified within the racy window of when it was hashed)."""
        n = len(files)
        if len(self.stat) != len(entries):  # not this manifest's: vouches for nothing
            return Known(np.zeros(n, np.bool_), np.full(n, -1, np.int64), [-1] * n, stats(files), False)
        rels = list(map(_REL, files))
        paths = list(map(_PATH, entries))
        in_order = rels == paths  # the usual case: the same files, listed in the same (sorted) order
        if in_order:
            at = np.arange(n)
        else:
            index = {r: i for i, r in enumerate(paths)}
            at = np.fromiter((index.get(r, -1) for r in rels), np.int64, n)
        now = stats(files)
        then = self.stat[np.maximum(at, 0)] if len(self.stat) else np.zeros((n, 4), np.int64)
        mtime = now[:, 1]
        window = np.where(mtime % 1_000_000_000 == 0, COARSE_RACY_NS, RACY_NS)
        ok = (at >= 0) & (now == then[:, :3]).all(axis=1) & (then[:, 3] - mtime >= window)
        return Known(ok, at, np.where(ok, then[:, 3], -1).tolist(), now, in_order)


_STAT = operator.attrgetter("st_size", "st_mtime_ns", "st_ino")
_REL = operator.itemgetter(1)  # ScannedFile.rel
_PATH = operator.attrgetter("path")
_ST = operator.itemgetter(2)  # ScannedFile.st


def stats(files: list[ScannedFile]) -> np.ndarray:
    """(size, mtime_ns, inode) of each file, as int64 rows (flattened in C: a list of tuples took twice as long)."""
    n = len(files)
    try:
        return np.fromiter(chain.from_iterable(map(_STAT, map(_ST, files))), np.int64, 3 * n).reshape(n, 3)
    except OverflowError:  # an inode number past 2**63 (some network file systems)
        return np.array([(a, b, c & _INO) for a, b, c in map(_STAT, map(_ST, files))], np.int64).reshape(n, 3)


def _path(home: Path, root: str, name: str) -> Path:
    key = hashlib.sha256(f"{host()}\0{root}\0{name}".encode()).hexdigest()[:40]
    return home / "cache" / "statsnap" / key


def load(home: Path, root: str, name: str) -> Snapshot | None:
    try:
        body = _path(home, root, name).read_bytes()
    except OSError:
        return None
    if not body.startswith(_MAGIC):
        return None
    end = body.find(b"\n", len(_MAGIC))
    raw = body[end + 1 :]
    if end < 0 or len(raw) % 32:
        return None
    return Snapshot(body[len(_MAGIC) : end].decode("ascii", "replace"), np.frombuffer(raw, np.int64).reshape(-1, 4))


def save(home: Path, root: str, name: str, version: str, files: list[ScannedFile], now: np.ndarray | None,
         hashed_at: list[int]) -> None:
    """Write the snapshot atomically; a failure only costs the next add its speed. ``files``: in
    the order of the version's manifest; ``now``: their ``stats`` when already taken."""
    stat = np.empty((len(files), 4), np.int64)
    stat[:, :3] = stats(files) if now is None else now
    stat[:, 3] = hashed_at
    path = _path(home, root, name)
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(_MAGIC + version.encode("ascii") + b"\n")
            f.write(stat.data)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
