"""The stat cache: (host, path, size, mtime_ns, inode) -> digest, so a re-add skips untouched files.

An entry is trusted only if the file's stat is unchanged and the file had not been modified
within ``RACY_NS`` of when it was hashed: file times come from a coarse clock, so a write
landing in the same tick as the hash could otherwise keep the old mtime (git's "racy" case).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from typing import NamedTuple

import sqlalchemy as sa

from ondo.store.bulk import upsert_many
from ondo.store.tables.datasets import dataset_stat_cache as t
from ondo.workspace import Workspace

RACY_NS = 100_000_000  # 100 ms: wider than any local file-system clock tick
COARSE_RACY_NS = 2_000_000_000  # file systems with whole-second times (FAT, some NFS)


class StatEntry(NamedTuple):  # a tuple: a re-add looks up 10,000 of them before anything else
    size: int
    mtime_ns: int
    inode: int
    digest: str
    hashed_at_ns: int

    def digest_if_fresh(self, st: os.stat_result) -> str | None:
        if (st.st_size, st.st_mtime_ns, st.st_ino) != (self.size, self.mtime_ns, self.inode):
            return None
        window = COARSE_RACY_NS if st.st_mtime_ns % 1_000_000_000 == 0 else RACY_NS
        if self.hashed_at_ns - st.st_mtime_ns < window:
            return None
        return self.digest


def host() -> str:
    return socket.gethostname()[:255]


def lookup(ws: Workspace, root: str, is_dir: bool) -> dict[str, StatEntry]:
    """Cached entries for ``root`` (a file) or for every file under it (a folder)."""
    if not is_dir:
        return lookup_paths(ws, [root])
    base = root.rstrip(os.sep) + os.sep
    return _fetch(ws, (t.c.path >= base) & (t.c.path < base[:-1] + chr(ord(os.sep) + 1)))


def lookup_paths(ws: Workspace, paths: list[str]) -> dict[str, StatEntry]:
    """Cached entries for these files."""
    return _fetch(ws, t.c.path.in_(paths))


def _fetch(ws: Workspace, where: sa.ColumnElement[bool]) -> dict[str, StatEntry]:
    q = sa.select(t.c.path, t.c.size, t.c.mtime_ns, t.c.inode, t.c.digest, t.c.hashed_at_ns).where(
        t.c.host == host(), where
    )
    with ws.read() as conn:
        rows = conn.execute(q).tuples().all()
    entry = StatEntry._make
    return {r[0]: entry(r[1:]) for r in rows}


def store(conn: sa.Connection, records: Iterable[tuple[str, os.stat_result, str, int]]) -> None:
    """Upsert (path, stat taken before hashing, digest, hashed_at_ns) records."""
    h = host()
    rows = [(h, p, st.st_size, st.st_mtime_ns, st.st_ino, d, at) for p, st, d, at in records]
    upsert_many(conn, t, _COLUMNS, rows, conflict=("host", "path"), update=_COLUMNS[2:])


_COLUMNS = ("host", "path", "size", "mtime_ns", "inode", "digest", "hashed_at_ns")
