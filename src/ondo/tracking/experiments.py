"""Experiments: named groups of runs, created on first use."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ondo.errors import InvalidInput, NotFound
from ondo.store.tables.core import experiments, runs
from ondo.workspace import Workspace

DEFAULT_EXPERIMENT = "default"


@dataclass(frozen=True)
class ExperimentInfo:
    id: str
    name: str
    description: str | None
    created_at: float
    run_count: int = 0
    last_run_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_experiment_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"experiment name must be a non-empty string, got {name!r}")
    if len(name) > 255 or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"invalid experiment name {name!r}: at most 255 printable characters")
    return name


def get_or_create(ws: Workspace, name: str, description: str | None = None) -> str:
    """The id of experiment ``name``, creating it when it does not exist yet."""
    check_experiment_name(name)
    with ws.read() as conn:
        found = conn.execute(sa.select(experiments.c.id).where(experiments.c.name == name)).scalar()
    if found is not None:
        return str(found)

    def _create(conn: sa.Connection) -> str:
        existing = conn.execute(sa.select(experiments.c.id).where(experiments.c.name == name)).scalar()
        if existing is not None:
            return str(existing)
        new_id = uuid.uuid4().hex
        conn.execute(
            experiments.insert().values(id=new_id, name=name, description=description, created_at=time.time())
        )
        return new_id

    try:
        return ws.write(_create)
    except IntegrityError:  # another process created it between our read and write (PostgreSQL)
        with ws.read() as conn:
            return str(
                conn.execute(sa.select(experiments.c.id).where(experiments.c.name == name)).scalar_one()
            )


def _listing_query() -> sa.Select[Any]:
    live = sa.and_(runs.c.experiment_id == experiments.c.id, runs.c.deleted == sa.false())
    counts = sa.select(sa.func.count()).select_from(runs).where(live).correlate(experiments).scalar_subquery()
    last = sa.select(sa.func.max(runs.c.start_time)).where(live).correlate(experiments).scalar_subquery()
    return sa.select(
        experiments.c.id,
        experiments.c.name,
        experiments.c.description,
        experiments.c.created_at,
        counts.label("run_count"),
        last.label("last_run_at"),
    )


def _info(row: Any) -> ExperimentInfo:
    return ExperimentInfo(
        id=row.id,
        name=row.name,
        description=row.description,
        created_at=row.created_at,
        run_count=int(row.run_count or 0),
        last_run_at=row.last_run_at,
    )


def list_experiments(ws: Workspace) -> list[ExperimentInfo]:
    with ws.read() as conn:
        rows = conn.execute(_listing_query().order_by(experiments.c.created_at, experiments.c.name)).all()
    return [_info(r) for r in rows]


def get_experiment(ws: Workspace, ident: str) -> ExperimentInfo:
    """An experiment by name or id; NotFound suggests close names."""
    with ws.read() as conn:
        row = conn.execute(
            _listing_query().where(sa.or_(experiments.c.name == ident, experiments.c.id == ident))
        ).first()
        if row is None:
            names = conn.execute(sa.select(experiments.c.name)).scalars().all()
            raise NotFound("experiment", ident, names)
    return _info(row)


def resolve_ids(conn: sa.Connection, names: list[str]) -> list[str]:
    """Experiment ids for names (or ids); an unknown one raises NotFound with suggestions."""
    rows = conn.execute(
        sa.select(experiments.c.id, experiments.c.name).where(
            sa.or_(experiments.c.name.in_(names), experiments.c.id.in_(names))
        )
    ).all()
    known = {r.name for r in rows} | {r.id for r in rows}
    for n in names:
        if n not in known:
            raise NotFound("experiment", n, conn.execute(sa.select(experiments.c.name)).scalars().all())
    return [r.id for r in rows]
