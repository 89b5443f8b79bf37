"""Heartbeats tell a live run from one whose process died.

A run's process updates ``runs.heartbeat_at`` every ``ONDO_HEARTBEAT_INTERVAL`` seconds
(default 5, and at most a third of the timeout) from one daemon thread per process. A process killed with ``kill -9`` cannot say
goodbye, so readers do it for it: ``reap`` marks 'running' runs whose heartbeat is older than
``ONDO_HEARTBEAT_TIMEOUT`` seconds (default 30) as 'killed', with the last heartbeat as end time.
Points flushed before the death stay; nothing else is touched.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from ondo.errors import StoreError
from ondo.store.tables.core import runs
from ondo.workspace import Workspace

DEFAULT_INTERVAL = 5.0
DEFAULT_TIMEOUT = 30.0


def _seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name) or default)
    except ValueError:
        return default
    return value if value > 0 else default


def timeout() -> float:
    """How long a run may stay silent before readers call it killed."""
    return _seconds("ONDO_HEARTBEAT_TIMEOUT", DEFAULT_TIMEOUT)


def interval() -> float:
    """Seconds between beats: at most a third of the timeout, so shortening only the timeout works."""
    return min(_seconds("ONDO_HEARTBEAT_INTERVAL", DEFAULT_INTERVAL), timeout() / 3)


class Heartbeat:
    """One thread per process beating for every live run it owns, whatever their workspace."""

    def __init__(self) -> None:
        self._live: dict[str, Workspace] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, ws: Workspace, run_id: str) -> None:
        with self._lock:
            self._live[run_id] = ws
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="ondo-heartbeat", daemon=True)
                self._thread.start()

    def remove(self, run_id: str) -> None:
        with self._lock:
            self._live.pop(run_id, None)

    def live_ids(self) -> set[str]:
        with self._lock:
            return set(self._live)

    def beat(self) -> None:
        with self._lock:
            groups: dict[int, tuple[Workspace, list[str]]] = {}
            for run_id, ws in self._live.items():
                groups.setdefault(id(ws), (ws, []))[1].append(run_id)
        now = time.time()
        for ws, ids in groups.values():
            ws.write(
                lambda conn, ids=ids: conn.execute(  # type: ignore[misc]
                    # A run a reader wrongly called killed (this process was starved) comes back.
                    runs.update()
                    .where(runs.c.id.in_(ids), runs.c.status.in_(("running", "killed")))
                    .values(heartbeat_at=now, status="running", end_time=None)
                )
            )

    def _loop(self) -> None:
        failed = False
        while not self._stop.wait(interval()):
            if not self.live_ids():
                continue
            try:
                self.beat()
                failed = False
            except Exception as exc:
                if not failed:
                    print(f"ondo: heartbeat failed, will retry: {exc}", file=sys.stderr)
                failed = True

    def _after_fork(self) -> None:
        """In a forked child: the parent's runs are the parent's to keep alive, and its thread is gone."""
        self._lock = threading.Lock()
        self._live = {}
        self._thread = None


HEARTBEAT = Heartbeat()
os.register_at_fork(after_in_child=HEARTBEAT._after_fork)


def reap(ws: Workspace, run_ids: Collection[str] | None = None) -> int:
    """Mark silent 'running' runs as 'killed'; returns how many. Cheap when there are none."""
    cutoff = time.time() - timeout()
    cond = sa.and_(runs.c.status == "running", runs.c.heartbeat_at < cutoff)
    if run_ids is not None:
        if not run_ids:
            return 0
        cond = sa.and_(cond, runs.c.id.in_(list(run_ids)))
    mine = HEARTBEAT.live_ids()
    with ws.read() as conn:
        stale = [r for r in conn.execute(sa.select(runs.c.id).where(cond)).scalars() if r not in mine]
    if not stale:
        return 0

    def _mark(conn: sa.Connection) -> int:
        res = conn.execute(
            runs.update()
            .where(runs.c.id.in_(stale), cond)
            .values(status="killed", end_time=runs.c.heartbeat_at)
        )
        return int(res.rowcount or 0)

    try:
        return ws.write(_mark)
    except (DBAPIError, StoreError):  # a reader that may not write (read-only role or file) still reads
        return 0
