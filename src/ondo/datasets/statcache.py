"""The stat cache: (host, path, size, mtime_ns, inode) -> digest, so a re-add skips untouched files.

An entry is trusted only if the file's stat is unchanged and the file had not been modified
within ``RACY_NS`` of when it was hashed: file times come from a coarse clock, so a write
landing in the same tick as the hash could otherwise keep the old mtime (git's "racy" case).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ondo.store.tables.datasets import dataset_stat_cache as t
from ondo.workspace import Workspace

RACY_NS = 100_000_000  # 100 ms: wider than any local file-system clock tick
COARSE_RACY_NS = 2_000_000_000  # file systems with whole-second times (FAT, some NFS)
_BATCH = 500


@dataclass(frozen=True)
class StatEntry:
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
    q = sa.select(t.c.path, t.c.size, t.c.mtime_ns, t.c.inode, t.c.digest, t.c.hashed_at_ns).where(
        t.c.host == host()
    )
    if is_dir:
        base = root.rstrip(os.sep) + os.sep
        q = q.where(t.c.path >= base, t.c.path < base[:-1] + chr(ord(os.sep) + 1))
    else:
        q = q.where(t.c.path == root)
    with ws.read() as conn:
        rows = conn.execute(q).tuples().all()
    return {p: StatEntry(size, mtime, inode, digest, at) for p, size, mtime, inode, digest, at in rows}


def store(conn: sa.Connection, records: Iterable[tuple[str, os.stat_result, str, int]]) -> None:
    """Upsert (path, stat taken before hashing, digest, hashed_at_ns) records."""
    h = host()
    values = [
        {"host": h, "path": p, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino,
         "digest": d, "hashed_at_ns": at}
        for p, st, d, at in records
    ]
    if not values:
        return
    dialect = conn.dialect.name
    for i in range(0, len(values), _BATCH):
        batch = values[i : i + _BATCH]
        ins: Any
        if dialect == "postgresql":
            ins = postgresql.insert(t)
        elif dialect == "sqlite":
            ins = sqlite.insert(t)
        else:  # pragma: no cover - ondo supports SQLite and PostgreSQL
            conn.execute(t.delete().where(t.c.host == h, t.c.path.in_([v["path"] for v in batch])))
            conn.execute(t.insert(), batch)
            continue
        stmt = ins.on_conflict_do_update(
            index_elements=[t.c.host, t.c.path],
            set_={c: ins.excluded[c] for c in ("size", "mtime_ns", "inode", "digest", "hashed_at_ns")},
        )
        conn.execute(stmt, batch)
