"""The in-process batching writer every metric point goes through.

Logging a point only appends a tuple to a buffer; the buffer is written in one transaction
per batch (one ``executemany`` into ``metrics`` plus one upsert of ``latest_metrics`` computed
in Python), when it reaches ``ONDO_METRIC_BATCH_SIZE`` points, every
``ONDO_METRIC_FLUSH_INTERVAL`` seconds from a background thread, on ``run.flush()``, at run end
and at interpreter exit. That keeps a training loop's ``log_metric`` at microseconds and the
store at a few transactions per second, where one transaction per point (MLflow) caps
ingest at a few hundred points per second on SQLite.
"""

from __future__ import annotations

import atexit
import functools
import math
import os
import sqlite3
import sys
import threading
import weakref
from collections import deque
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import sqlalchemy as sa

from ondo.store.tables.core import latest_metrics, metrics
from ondo.workspace import Workspace

# (run_id, key, step, value, timestamp, flag)
Point = tuple[str, str, int, float | None, float, int]

FLAG_FINITE, FLAG_NAN, FLAG_POS_INF, FLAG_NEG_INF = 0, 1, 2, 3


def flag_of(value: float) -> int:
    if math.isfinite(value):
        return FLAG_FINITE
    if math.isnan(value):
        return FLAG_NAN
    return FLAG_POS_INF if value > 0 else FLAG_NEG_INF


def stored_value(value: float, flag: int) -> float | None:
    """What goes into the value column: NaN becomes NULL (SQLite cannot hold it); inf stays."""
    return None if flag == FLAG_NAN else value


def value_of(stored: float | None, flag: int) -> float:
    """Invert ``stored_value``: the flag, not the column, says NaN and the sign of inf."""
    if flag == FLAG_NAN or stored is None:
        return math.nan
    if flag == FLAG_POS_INF:
        return math.inf
    if flag == FLAG_NEG_INF:
        return -math.inf
    return float(stored)


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        return default


class MetricWriter:
    """Buffers points for one workspace and writes them in batches.

    The buffer is a deque: ``append``/``popleft`` are atomic under the GIL, so logging takes no
    lock and a point appended while a flush drains the buffer is either in that batch or the next.
    A full batch wakes the background thread, which writes it while the caller keeps computing
    (SQLite releases the GIL while it works); a caller more than ``BACKLOG`` batches ahead of
    the store writes itself, which bounds memory and surfaces a store that keeps failing.
    """

    BACKLOG = 4

    def __init__(self, ws: Workspace, batch_size: int | None = None, interval: float | None = None) -> None:
        self.ws = ws
        self.batch_size = int(batch_size or _env_number("ONDO_METRIC_BATCH_SIZE", 10_000))
        self.interval = float(interval or _env_number("ONDO_METRIC_FLUSH_INTERVAL", 1.0))
        self._buffer: deque[Point] = deque()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._background_error: BaseException | None = None

    # -- producer side -------------------------------------------------------------------------
    def add_one(self, point: Point) -> None:
        buf = self._buffer
        buf.append(point)
        if len(buf) >= self.batch_size:
            self._full(len(buf))
        elif self._thread is None:
            self._start_thread()

    def add(self, points: Iterable[Point]) -> None:
        buf = self._buffer
        buf.extend(points)
        if len(buf) >= self.batch_size:
            self._full(len(buf))
        elif self._thread is None:
            self._start_thread()

    def _full(self, n: int) -> None:
        if self._thread is None:
            self._start_thread()
        if n >= self.BACKLOG * self.batch_size:
            self.flush()
        elif not self._wake.is_set():  # is_set is a plain read; set() takes a lock every call
            self._wake.set()

    def pending(self) -> int:
        return len(self._buffer)

    # -- writing -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything buffered so far; on return those points are readable by anyone."""
        with self._flush_lock:
            buf = self._buffer
            pop = buf.popleft
            batch = [pop() for _ in range(len(buf))]
            done = 0
            try:
                while done < len(batch):
                    chunk = batch[done : done + self.batch_size]
                    self.ws.write(lambda conn, chunk=chunk: write_points(conn, chunk))  # type: ignore[misc]
                    done += len(chunk)
            except BaseException:
                # keep what was not written, in order, so a later flush (or the exit hook) retries it
                buf.extendleft(reversed(batch[done:]))
                raise
        self._background_error = None

    def _start_thread(self) -> None:
        with _writers_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="ondo-metric-writer", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if not self._buffer:
                continue
            try:
                self.flush()
            except Exception as exc:  # reported once; the points stay buffered for the next flush
                if self._background_error is None:
                    print(f"ondo: metric flush failed, will retry: {exc}", file=sys.stderr)
                self._background_error = exc

    def _after_fork(self) -> None:
        """In a forked child: the parent's thread is gone and its buffered points are the parent's to write.

        The parent's pooled connections must not be used from here either (SQLite forbids sharing an
        open connection across fork), so the child's engine starts a fresh pool.
        """
        self.ws.engine.dispose(close=False)
        self._buffer = deque()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self.flush()


def write_points(conn: sa.Connection, points: Sequence[Point]) -> None:
    """Insert ``points`` and move ``latest_metrics`` forward, in the caller's transaction."""
    if not points:
        return
    _insert_metrics(conn, points)
    latest: dict[tuple[str, str], Point] = {}
    for p in points:
        k = (p[0], p[1])
        cur = latest.get(k)
        if cur is None or (p[2], p[4]) >= (cur[2], cur[4]):
            latest[k] = p
    _upsert_latest(conn, list(latest.values()))


_COLS = ("run_id", "key", "step", "value", "timestamp", "flag")


def _insert_metrics(conn: sa.Connection, points: Sequence[Point]) -> None:
    if conn.dialect.name != "sqlite":
        conn.execute(metrics.insert(), [dict(zip(_COLS, p, strict=True)) for p in points])
        return
    # SQLite: the driver directly, with the SQL SQLAlchemy compiles for this insert. Multi-row
    # VALUES statements cost ~20% less CPU per point than executemany; the remainder uses executemany.
    n = _SQLITE_ROWS_PER_STATEMENT
    whole = len(points) - len(points) % n
    if whole:
        many = _sqlite_insert_sql(n)
        for start in range(0, whole, n):
            conn.exec_driver_sql(many, tuple(chain.from_iterable(points[start : start + n])))
    if whole < len(points):
        conn.exec_driver_sql(_sqlite_insert_sql(1), list(points[whole:]))  # type: ignore[arg-type]


# rows per multi-row INSERT: 6 parameters each, under SQLite's variable limit (999 before 3.32)
_SQLITE_ROWS_PER_STATEMENT = 500 if sqlite3.sqlite_version_info >= (3, 32, 0) else 160


@functools.cache
def _sqlite_insert_sql(rows: int) -> str:
    from sqlalchemy.dialects import sqlite

    one = str(metrics.insert().compile(dialect=sqlite.dialect(), column_keys=list(_COLS)))
    head, _, values = one.partition(" VALUES ")
    return head + " VALUES " + ", ".join([values] * rows)


def _upsert_latest(conn: sa.Connection, rows: Sequence[Point]) -> None:
    params = [dict(zip(_COLS, p, strict=True)) for p in rows]
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
        stmt = insert(latest_metrics)
        ex = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[latest_metrics.c.run_id, latest_metrics.c.key],
            set_={"step": ex.step, "value": ex.value, "timestamp": ex.timestamp, "flag": ex.flag},
            where=sa.or_(
                ex.step > latest_metrics.c.step,
                sa.and_(ex.step == latest_metrics.c.step, ex.timestamp >= latest_metrics.c.timestamp),
            ),
        )
        conn.execute(stmt, params)
        return
    _upsert_latest_portable(conn, params)


def _upsert_latest_portable(conn: sa.Connection, params: list[dict[str, Any]]) -> None:
    t = latest_metrics
    for row in params:
        cur = conn.execute(
            sa.select(t.c.step, t.c.timestamp).where(t.c.run_id == row["run_id"], t.c.key == row["key"])
        ).first()
        if cur is None:
            conn.execute(t.insert().values(**row))
        elif (row["step"], row["timestamp"]) >= (cur.step, cur.timestamp):
            conn.execute(
                t.update()
                .where(t.c.run_id == row["run_id"], t.c.key == row["key"])
                .values(step=row["step"], value=row["value"], timestamp=row["timestamp"], flag=row["flag"])
            )


# -- one writer per workspace, flushed at exit ----------------------------------------------------
_writers: weakref.WeakKeyDictionary[Workspace, MetricWriter] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()
_atexit_registered = False


def writer_for(ws: Workspace) -> MetricWriter:
    global _atexit_registered
    with _writers_lock:
        w = _writers.get(ws)
        if w is None:
            w = MetricWriter(ws)
            _writers[ws] = w
        if not _atexit_registered:
            atexit.register(flush_all)
            _atexit_registered = True
        return w


def _after_fork_in_child() -> None:
    global _writers_lock
    _writers_lock = threading.Lock()
    for w in list(_writers.values()):
        w._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def flush_all() -> None:
    """Flush every writer (the interpreter-exit hook); errors are reported, not raised."""
    with _writers_lock:
        writers = list(_writers.values())
    for w in writers:
        try:
            w.flush()
        except Exception as exc:
            print(f"ondo: could not write {w.pending()} buffered metric points: {exc}", file=sys.stderr)
