"""A folder's stat snapshot: the stat cache of one (folder, dataset) in one local file, by columns.

A re-add of a big folder must tell, for every file, whether it is untouched since the last
version. Asking the stat cache table for 10,000 rows and checking them one by one took 35 ms, as
long as the rest of a re-add after a small edit; this file loads in under a millisecond and
is checked with array operations. It is only a faster copy: the table still holds every entry
(and serves other folders and names), and a snapshot that is missing, unreadable or taken for
another version than the one being extended is ignored.
"""

from __future__ import annotations

import hashlib
import marshal
import operator
import os
import uuid
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np

from ondo.datasets.scan import ScannedFile
from ondo.datasets.statcache import COARSE_RACY_NS, RACY_NS, host

_MAGIC = "ondo.statsnap/1"
_INO = (1 << 63) - 1  # inode numbers are unsigned 64-bit; kept in int64 columns


@dataclass
class Snapshot:
    version: str  # manifest digest of the version these files made
    rels: list[str]
    stat: np.ndarray  # int64 rows: size, mtime_ns, inode, hashed_at_ns
    digests: list[str]

    def known(self, files: list[ScannedFile]) -> tuple[list[str | None], list[int], np.ndarray, list[str]]:
        """Each file's digest when it is untouched since it was hashed (as ``StatEntry.digest_if_fresh``),
        when that was (-1 where not known), and the files' stats and paths (for ``save``)."""
        n = len(files)
        rels = list(map(_REL, files))
        same_order = rels == self.rels  # the usual case: the same files, listed in the same (sorted) order
        if same_order:
            at = np.arange(n)
        else:
            index = {r: i for i, r in enumerate(self.rels)}
            at = np.fromiter((index.get(r, -1) for r in rels), np.int64, n)
        now = stats(files)
        then = self.stat[np.maximum(at, 0)] if len(self.stat) else np.zeros((n, 4), np.int64)
        mtime = now[:, 1]
        window = np.where(mtime % 1_000_000_000 == 0, COARSE_RACY_NS, RACY_NS)
        ok = (at >= 0) & (now == then[:, :3]).all(axis=1) & (then[:, 3] - mtime >= window)
        digests = self.digests
        if same_order:
            known = [d if good else None for d, good in zip(digests, ok.tolist(), strict=True)]
        else:
            known = [digests[i] if good else None for i, good in zip(at.tolist(), ok.tolist(), strict=True)]
        return known, np.where(ok, then[:, 3], -1).tolist(), now, rels


_STAT = operator.attrgetter("st_size", "st_mtime_ns", "st_ino")
_REL = operator.itemgetter(1)  # ScannedFile.rel
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
        body = marshal.loads(_path(home, root, name).read_bytes())
        magic, version, rels, stat, digests = body
        if magic != _MAGIC:
            return None
        arr = np.frombuffer(stat, np.int64).reshape(-1, 4)
        if len(arr) != len(rels) or len(digests) != len(rels):
            return None
        return Snapshot(version, rels, arr, digests)
    except (OSError, ValueError, EOFError, TypeError):
        return None


def save(home: Path, root: str, name: str, version: str, files: list[ScannedFile], now: np.ndarray | None,
         digests: list[str], hashed_at: list[int], rels: list[str] | None = None) -> None:
    """Write the snapshot atomically; a failure only costs the next add its speed. ``now`` and
    ``rels``: the files' ``stats`` and paths when already taken."""
    stat = np.empty((len(files), 4), np.int64)
    stat[:, :3] = stats(files) if now is None else now
    stat[:, 3] = hashed_at
    body = marshal.dumps((_MAGIC, version, [f.rel for f in files] if rels is None else rels, stat.tobytes(), digests))
    path = _path(home, root, name)
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(body)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
