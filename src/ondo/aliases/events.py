"""Alias moves as append-only events.

Every move writes an event (who, from, to, when, why, and structured details such as a
promotion gate's outcome) and updates the pointer in the same transaction, with the pointer
row locked, so two processes moving one alias at once both land, in order, and the pointer
equals the newest event.

Rollback walks back through the alias's history like an undo stack: each ``set`` (or
``promote``) pushes a version, each ``rollback`` pops one. So a first rollback returns to the
version held before the current one, and a second rollback goes one step further back (it
does not undo the first rollback); when nothing earlier is left, rollback refuses. The stack
is read inside the same locked transaction that moves the pointer, so a concurrent move
cannot slip in between reading the history and writing the rollback.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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
    details: dict[str, Any] | None = None

    @property
    def who(self) -> str:
        return self.actor

    @property
    def when(self) -> float:
        return self.created_at

    @property
    def version(self) -> int | None:
        """The version the alias pointed at after this event (``to_version``)."""
        return self.to_version

    def to_dict(self) -> dict[str, Any]:
        """Every field, plus the event's words as the issue spells them: who, when, from, to."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out.update({"who": self.actor, "when": self.created_at, "from": self.from_version, "to": self.to_version})
        return out


def current_actor() -> str:
    """Who is acting: ``$ONDO_USER``, else the login name (recorded on events and registered versions)."""
    return os.environ.get("ONDO_USER") or _login()


_actor = current_actor


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def pointer(conn: sa.Connection, kind: str, name: str, alias: str) -> int | None:
    """What ``name@alias`` points at, read on the caller's connection (same snapshot as its other queries)."""
    return conn.execute(
        sa.select(aliases.c.version).where(
            aliases.c.kind == kind, aliases.c.name == name, aliases.c.alias == alias
        )
    ).scalar_one_or_none()


def pointers(conn: sa.Connection, kind: str) -> dict[str, dict[str, int]]:
    """Every alias in place for ``kind``: ``{name: {alias: version}}`` (removed aliases left out), for listings."""
    rows = conn.execute(
        sa.select(aliases.c.name, aliases.c.alias, aliases.c.version)
        .where(aliases.c.kind == kind, aliases.c.version.is_not(None))
        .order_by(aliases.c.alias)
    ).all()
    by_name: dict[str, dict[str, int]] = {}
    for r in rows:
        by_name.setdefault(r.name, {})[r.alias] = r.version
    return by_name


def current(ws: Workspace, kind: str, name: str, alias: str) -> int | None:
    with ws.read() as conn:
        return pointer(conn, kind, name, alias)


def all_for(ws: Workspace, kind: str, name: str) -> dict[str, int]:
    with ws.read() as conn:
        rows = conn.execute(
            sa.select(aliases.c.alias, aliases.c.version).where(
                aliases.c.kind == kind, aliases.c.name == name, aliases.c.version.is_not(None)
            )
        ).all()
    return {r.alias: r.version for r in rows}


# decide(conn, current_version) -> (new_version, reason, details); may raise OndoError to refuse.
Decide = Callable[[sa.Connection, int | None], tuple[int | None, str | None, dict[str, Any] | None]]


def _locked_move(
    ws: Workspace, kind: str, name: str, alias: str, decide: Decide, *, actor: str | None, action: str
) -> AliasEvent:
    """Lock the pointer row, let ``decide`` pick the target, append the event, update the pointer."""
    check_alias(alias)
    who = actor or _actor()

    def tx(conn: sa.Connection) -> AliasEvent:
        where = (aliases.c.kind == kind, aliases.c.name == name, aliases.c.alias == alias)
        sel = sa.select(aliases.c.version).where(*where)
        if conn.dialect.name == "postgresql":
            sel = sel.with_for_update()
        row = conn.execute(sel).first()
        prev = row.version if row else None
        version, reason, details = decide(conn, prev)
        now = time.time()
        inserted = conn.execute(
            alias_events.insert().values(
                kind=kind, name=name, alias=alias, from_version=prev, to_version=version,
                actor=who, reason=reason, action=action, created_at=now, details=details,
            )
        ).inserted_primary_key
        assert inserted is not None
        event_id = inserted[0]
        if row is None:
            conn.execute(
                aliases.insert().values(
                    kind=kind, name=name, alias=alias, version=version, updated_at=now, event_id=event_id
                )
            )
        else:
            conn.execute(
                aliases.update().where(*where).values(version=version, updated_at=now, event_id=event_id)
            )
        return AliasEvent(int(event_id), kind, name, alias, prev, version, who, reason, action, now, details)

    for _ in range(20):
        try:
            return ws.write(tx)
        except IntegrityError:
            continue  # another process created the pointer row first; retry as an update
    raise OndoError(f"could not move alias {name}@{alias}: too much contention")


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
    details: dict[str, Any] | None = None,
) -> AliasEvent:
    """Point ``name@alias`` at ``version`` (None removes it), recording the event."""
    return _locked_move(
        ws, kind, name, alias, lambda _conn, _prev: (version, reason, details), actor=actor, action=action
    )


def remove(ws: Workspace, kind: str, name: str, alias: str, *, reason: str | None = None) -> AliasEvent:
    if current(ws, kind, name, alias) is None:
        raise NotFound(f"{kind} alias", f"{name}@{alias}", [f"{name}@{a}" for a in all_for(ws, kind, name)])
    return move(ws, kind, name, alias, None, reason=reason, action="remove")


def _events(conn: sa.Connection, kind: str, name: str, alias: str | None) -> list[AliasEvent]:
    q = sa.select(alias_events).where(alias_events.c.kind == kind, alias_events.c.name == name)
    if alias is not None:
        q = q.where(alias_events.c.alias == alias)
    return [AliasEvent(**r._mapping) for r in conn.execute(q.order_by(alias_events.c.id)).all()]


def history(ws: Workspace, kind: str, name: str, alias: str | None = None) -> list[AliasEvent]:
    """Every move of ``name``'s aliases (or of one alias), oldest first."""
    if alias is not None:
        check_alias(alias)  # a malformed alias is an error, not an empty history
    with ws.read() as conn:
        return _events(conn, kind, name, alias)


def value_at(ws: Workspace, kind: str, name: str, alias: str, when: float) -> int | None:
    """The version ``name@alias`` pointed at, at epoch time ``when``."""
    check_alias(alias)
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


def undo_stack(events: Sequence[AliasEvent]) -> list[int | None]:
    """The versions a rollback can return to, oldest first; the last entry is the current one.

    A move pushes its target (unless it equals the top), a rollback pops the top.
    """
    stack: list[int | None] = []
    for e in events:
        if e.action == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != e.to_version:  # stays consistent with hand-edited histories
                stack.append(e.to_version)
        elif not stack or stack[-1] != e.to_version:
            stack.append(e.to_version)
    return stack


def rollback(
    ws: Workspace, kind: str, name: str, alias: str, *, reason: str | None = None, actor: str | None = None
) -> AliasEvent:
    """Move the alias back to the version it held before its current one (see the module docstring)."""
    check_alias(alias)
    if not history(ws, kind, name, alias):
        raise NotFound(f"{kind} alias", f"{name}@{alias}", [f"{name}@{a}" for a in all_for(ws, kind, name)])

    def decide(conn: sa.Connection, prev: int | None) -> tuple[int | None, str | None, dict[str, Any] | None]:
        stack = undo_stack(_events(conn, kind, name, alias))
        if len(stack) < 2:
            raise OndoError(
                f"{name}@{alias} has no earlier version to roll back to (it holds "
                f"{'nothing' if prev is None else f'version {prev}'} and nothing was set before that)"
            )
        target = stack[-2]
        return target, reason or f"rollback from {_label(prev)} to {_label(target)}", None

    return _locked_move(ws, kind, name, alias, decide, actor=actor, action="rollback")


def _label(version: int | None) -> str:
    return "nothing" if version is None else f"version {version}"
