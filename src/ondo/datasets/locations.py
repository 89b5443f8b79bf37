"""Where small files' bytes are: file digest -> (pack blob, offset, size).

Small files (up to ``SMALL_FILE`` bytes) are written many to one pack blob instead of one
blob each: creating and renaming ten thousand files is what makes adds of many small files
slow. The manifest stays content-only (a file is its digest); this table says where those
bytes sit, for every version that has them.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from ondo.store.bulk import upsert_many
from ondo.store.tables.datasets import dataset_file_locations as t

Location = tuple[str, int, int]  # (pack digest, offset, size)
_BATCH = 500


def lookup(conn: sa.Connection, digests: Iterable[str]) -> dict[str, Location]:
    wanted = sorted(set(digests))
    out: dict[str, Location] = {}
    for i in range(0, len(wanted), _BATCH):
        rows = conn.execute(
            sa.select(t.c.digest, t.c.pack, t.c.offset, t.c.size).where(t.c.digest.in_(wanted[i : i + _BATCH]))
        ).tuples()
        for d, pack, off, size in rows:
            out[d] = (pack, int(off), int(size))
    return out


def record(conn: sa.Connection, locations: dict[str, Location]) -> None:
    """Remember locations; a digest already located keeps its first location."""
    rows = [(d, p, o, s) for d, (p, o, s) in sorted(locations.items())]
    upsert_many(conn, t, ("digest", "pack", "offset", "size"), rows, conflict=("digest",))
