"""Many-row upserts straight through the database driver.

SQLAlchemy's executemany builds and processes a parameter dict per row; for the 10,000-row
batches an add of many files writes (stat cache, file locations) that was a fifth of a second
of pure Python after all the data work had finished. ``INSERT ... ON CONFLICT`` is the same
SQL in SQLite (3.24+) and PostgreSQL, so one statement serves both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa


def upsert_many(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    conflict: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order); on a ``conflict`` key, overwrite ``update``
    columns, or keep the existing row when ``update`` is empty."""
    if not rows:
        return
    q = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    action = (
        "DO UPDATE SET " + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in update) if update else "DO NOTHING"
    )
    sql = (
        f"INSERT INTO {q(table.name)} ({', '.join(q(c) for c in columns)}) "
        f"VALUES ({', '.join(mark for _ in columns)}) "
        f"ON CONFLICT ({', '.join(q(c) for c in conflict)}) {action}"
    )
    conn.exec_driver_sql(sql, list(rows))
