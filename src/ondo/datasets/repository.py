"""Queries on dataset versions: the only module that touches the datasets tables' rows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ondo.store.tables.datasets import dataset_versions as t


@dataclass(frozen=True)
class VersionRow:
    id: int
    name: str
    version: int
    digest: str
    message: str | None
    actor: str | None
    created_at: float
    file_count: int
    row_count: int
    size: int
    bad_rows: int
    profile: dict[str, Any] | None


def _row(r: Any) -> VersionRow:
    return VersionRow(**{f: getattr(r, f) for f in VersionRow.__dataclass_fields__})


def find(conn: sa.Connection, name: str, version: int) -> VersionRow | None:
    r = conn.execute(sa.select(t).where(t.c.name == name, t.c.version == version)).first()
    return _row(r) if r else None


def find_digest(conn: sa.Connection, name: str, digest: str) -> VersionRow | None:
    r = conn.execute(sa.select(t).where(t.c.name == name, t.c.digest == digest)).first()
    return _row(r) if r else None


def find_digest_prefix(conn: sa.Connection, name: str, prefix: str) -> list[VersionRow]:
    rows = conn.execute(
        sa.select(t).where(t.c.name == name, t.c.digest.like(prefix + "%")).order_by(t.c.version).limit(10)
    ).all()
    return [_row(r) for r in rows]


def latest(conn: sa.Connection, name: str) -> VersionRow | None:
    r = conn.execute(sa.select(t).where(t.c.name == name).order_by(t.c.version.desc()).limit(1)).first()
    return _row(r) if r else None


def versions(conn: sa.Connection, name: str) -> list[VersionRow]:
    return [_row(r) for r in conn.execute(sa.select(t).where(t.c.name == name).order_by(t.c.version)).all()]


def all_versions(conn: sa.Connection) -> list[VersionRow]:
    return [_row(r) for r in conn.execute(sa.select(t).order_by(t.c.name, t.c.version)).all()]


def names(conn: sa.Connection) -> list[str]:
    return [r[0] for r in conn.execute(sa.select(t.c.name).distinct().order_by(t.c.name)).all()]


def summaries(conn: sa.Connection) -> list[tuple[str, int, int, float]]:
    """(name, latest version, number of versions, time of the latest) per dataset."""
    q = (
        sa.select(t.c.name, sa.func.max(t.c.version), sa.func.count(), sa.func.max(t.c.created_at))
        .group_by(t.c.name)
        .order_by(t.c.name)
    )
    return [(r[0], int(r[1]), int(r[2]), float(r[3])) for r in conn.execute(q).all()]


def insert_next(
    conn: sa.Connection, *, name: str, digest: str, message: str | None, actor: str | None,
    file_count: int, row_count: int, size: int, bad_rows: int,
) -> VersionRow:
    """Insert the next version number of ``name``; a concurrent insert surfaces as IntegrityError."""
    top = conn.execute(sa.select(sa.func.max(t.c.version)).where(t.c.name == name)).scalar()
    values: dict[str, Any] = dict(
        name=name, version=int(top or 0) + 1, digest=digest, message=message, actor=actor,
        created_at=time.time(), file_count=file_count, row_count=row_count, size=size, bad_rows=bad_rows,
    )
    key = conn.execute(t.insert().values(**values)).inserted_primary_key
    assert key is not None
    new_id = key[0]
    return VersionRow(id=int(new_id), profile=None, **values)


def set_profile(conn: sa.Connection, version_id: int, profile: dict[str, Any]) -> None:
    conn.execute(t.update().where(t.c.id == version_id).values(profile=profile))
