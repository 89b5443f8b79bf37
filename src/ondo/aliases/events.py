"""Alias moves as append-only events.

Every move writes an event (who, from, to, when, why) and updates the pointer in the same
transaction, with the pointer row locked, so two processes moving one alias at once both
land, in order, and the pointer equals the newest event. Rollback is a move back to the
version the alias held before the current one.
"""

from __future__ import annotations

import getpass
import os
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ondo.errors import NotFound, OndoError
from ondo.ids import check_alias
from ondo.store.tables.aliases import alias_events, aliases
from ondo.workspace import Workspace


@dataclass(frozen=True)
class AliasEvent:
    id: int
    kind: str
    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str | None
    action: str
    created_at: float


def _actor() -> str:
    return os.environ.get("ONDO_USER") or _login()


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def current(ws: Workspace, kind: str, name: str, alias: str) -> int | None:
    with ws.read() as conn:
        return conn.execute(
            sa.select(aliases.c.version).where(
                aliases.c.kind == kind, aliases.c.name == name, aliases.c.alias == alias
            )
        ).scalar_one_or_none()


def all_for(ws: Workspace, kind: str, name: str) -> dict[str, int]:
    with ws.read() as conn:
        rows = conn.execute(
            sa.select(aliases.c.alias, aliases.c.version).where(
                aliases.c.kind == kind, aliases.c.name == name, aliases.c.version.is_not(None)
            )
        ).all()
    return {r.alias: r.version for r in rows}


def move(
    ws: Workspace,
    kind: str,
    name: str,
    alias: str,
    version: int | None,
    *,
    reason: str | None = None,
    actor: str | None = None,
    action: str = "set",
) -> AliasEvent:
    """Point ``name@alias`` at ``version`` (None removes it), recording the event."""
    check_alias(alias)
    who = actor or _actor()

    def tx(conn: sa.Connection) -> AliasEvent:
        sel = sa.select(aliases.c.version).where(
            aliases.c.kind == kind, aliases.c.name == name, aliases.c.alias == alias
        )
        if conn.dialect.name == "postgresql":
            sel = sel.with_for_update()
        row = conn.execute(sel).first()
        prev = row.version if row else None
        now = time.time()
        event_id = conn.execute(
            alias_events.insert().values(
                kind=kind, name=name, alias=alias, from_version=prev, to_version=version,
                actor=who, reason=reason, action=action, created_at=now,
            )
        ).inserted_primary_key[0]
        if row is None:
            conn.execute(
                aliases.insert().values(
                    kind=kind, name=name, alias=alias, version=version, updated_at=now, event_id=event_id
                )
            )
        else:
            conn.execute(
                aliases.update()
                .where(aliases.c.kind == kind, aliases.c.name == name, aliases.c.alias == alias)
                .values(version=version, updated_at=now, event_id=event_id)
            )
        return AliasEvent(int(event_id), kind, name, alias, prev, version, who, reason, action, now)

    for _ in range(20):
        try:
            return ws.write(tx)
        except IntegrityError:
            continue  # another process created the pointer row first; retry as an update
    raise OndoError(f"could not move alias {name}@{alias}: too much contention")


def remove(ws: Workspace, kind: str, name: str, alias: str, *, reason: str | None = None) -> AliasEvent:
    if current(ws, kind, name, alias) is None:
        raise NotFound(f"{kind} alias", f"{name}@{alias}", [f"{name}@{a}" for a in all_for(ws, kind, name)])
    return move(ws, kind, name, alias, None, reason=reason, action="remove")


def history(ws: Workspace, kind: str, name: str, alias: str | None = None) -> list[AliasEvent]:
    """Every move of ``name``'s aliases (or of one alias), oldest first."""
    q = sa.select(alias_events).where(alias_events.c.kind == kind, alias_events.c.name == name)
    if alias is not None:
        q = q.where(alias_events.c.alias == alias)
    with ws.read() as conn:
        rows = conn.execute(q.order_by(alias_events.c.id)).all()
    return [AliasEvent(**r._mapping) for r in rows]


def value_at(ws: Workspace, kind: str, name: str, alias: str, when: float) -> int | None:
    """The version ``name@alias`` pointed at, at epoch time ``when``."""
    with ws.read() as conn:
        row = conn.execute(
            sa.select(alias_events.c.to_version)
            .where(
                alias_events.c.kind == kind, alias_events.c.name == name,
                alias_events.c.alias == alias, alias_events.c.created_at <= when,
            )
            .order_by(alias_events.c.id.desc())
            .limit(1)
        ).first()
    return row.to_version if row else None


def rollback(ws: Workspace, kind: str, name: str, alias: str, *, reason: str | None = None) -> AliasEvent:
    """Move the alias back to the version it held before its current one."""
    events = history(ws, kind, name, alias)
    if not events:
        raise NotFound(f"{kind} alias", f"{name}@{alias}")
    cur = events[-1].to_version
    previous = events[-1].from_version
    if previous is None:
        raise OndoError(f"{name}@{alias} has no earlier version to roll back to (it was first set to {cur})")
    return move(ws, kind, name, alias, previous, reason=reason or f"rollback from {cur}", action="rollback")
