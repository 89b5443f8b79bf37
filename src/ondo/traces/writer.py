"""The batching span writer: callers enqueue, one background thread writes.

Producers (the gateway's event loop, application threads) only append to a deque, which
costs a microsecond; a daemon thread drains it in batches, by size or every ``interval_s``,
redacts the bodies, inserts the batch with one ``executemany`` in one transaction, and hands
it to the OpenTelemetry exporter when one is configured. ``flush()`` is a barrier: it returns
once every span submitted before it is stored. An ``atexit`` hook flushes what is left.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import logging
import sqlite3
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from ondo.store.tables.traces import spans
from ondo.traces.records import COLUMNS, SpanRecord
from ondo.traces.redaction import Redactor
from ondo.workspace import Workspace

log = logging.getLogger("ondo.traces")

Exporter = Callable[[Sequence[SpanRecord]], None]

_ERROR, _ATTRS, _INPUT, _OUTPUT = (COLUMNS.index(c) for c in ("error", "attributes", "input", "output"))


class _Barrier:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class SpanWriter:
    """Batches spans into the store of one workspace."""

    def __init__(
        self,
        ws: Workspace,
        *,
        batch_size: int = 2000,
        interval_s: float = 0.2,
        redactor: Redactor | None = None,
        exporters: Sequence[Exporter] = (),
        max_body_chars: int = 65536,
    ) -> None:
        self.ws = ws
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.redactor = redactor or Redactor()
        self.exporters = list(exporters)
        self.max_body_chars = max_body_chars
        # attribute JSON is redacted only when patterns are set (secrets never go into attributes)
        self._check_attrs = self.redactor.active
        self.written = 0
        self.dropped = 0
        self._queue: deque[SpanRecord | _Barrier] = deque()
        self._wake = threading.Event()
        self._closed = False
        self._sql, self._positional = self._compile()
        self._multi = self.ws.engine.dialect.name == "sqlite"
        self._thread = threading.Thread(target=self._run, name="ondo-span-writer", daemon=True)
        self._thread.start()
        _live.add(self)

    def _compile(self) -> tuple[str, bool]:
        compiled = spans.insert().compile(dialect=self.ws.engine.dialect, column_keys=list(COLUMNS))
        if compiled.positional:
            assert tuple(compiled.positiontup or ()) == COLUMNS, "spans table and SpanRecord.values() disagree"
        return str(compiled), bool(compiled.positional)

    # -- producer side -----------------------------------------------------------------------------
    def submit(self, record: SpanRecord) -> None:
        """Queue a finished span; never blocks and never raises."""
        if self._closed:
            self.dropped += 1
            return
        self._queue.append(record)
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Block until every span submitted so far is stored (or ``timeout`` passes)."""
        if not self._thread.is_alive():
            self._drain_now()
            return True
        barrier = _Barrier()
        self._queue.append(barrier)
        self._wake.set()
        return barrier.done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)

    @property
    def pending(self) -> int:
        return len(self._queue)

    # -- writer thread ----------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            try:
                self._drain_now()
            except Exception:  # pragma: no cover - the loop must survive anything
                log.exception("span writer failed")

    def _drain_now(self) -> None:
        while self._queue:
            batch: list[SpanRecord] = []
            barriers: list[_Barrier] = []
            while self._queue and len(batch) < self.batch_size:
                item = self._queue.popleft()
                if isinstance(item, _Barrier):
                    barriers.append(item)
                    break  # everything before the barrier is in this batch
                batch.append(item)
            if batch:
                self._write(batch)
            for b in barriers:
                b.done.set()

    def _write(self, batch: list[SpanRecord]) -> None:
        rows = [self._values(r) for r in batch]
        params: list[Any] = rows if self._positional else [dict(zip(COLUMNS, r, strict=True)) for r in rows]
        insert = self._insert_multi if self._multi else self._insert_many
        for attempt in range(5):
            try:
                self.ws.write(lambda conn: insert(conn, params))
                self.written += len(rows)
                break
            except sa.exc.IntegrityError:
                # a duplicate span id (a record submitted twice): store the rest one by one
                self._write_one_by_one(rows)
                break
            except Exception as exc:
                if attempt == 4:
                    self.dropped += len(rows)
                    log.warning("dropped %d spans: %s", len(rows), exc)
                    return
                time.sleep(0.05 * (attempt + 1))
        for export in self.exporters:
            try:
                export(batch)
            except Exception as exc:
                log.warning("span export failed: %s", exc)

    def _insert_many(self, conn: sa.Connection, params: list[Any]) -> None:
        conn.exec_driver_sql(self._sql, params)

    def _insert_multi(self, conn: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
        """SQLite: multi-row VALUES statements (about 15% less CPU per row than executemany)."""
        k = _ROWS_PER_STATEMENT
        full = len(rows) - len(rows) % k
        if full:
            sql = _multi_sql(k)
            for i in range(0, full, k):
                conn.exec_driver_sql(sql, tuple(itertools.chain.from_iterable(rows[i:i + k])))
        if full < len(rows):
            rest = rows[full:]
            conn.exec_driver_sql(_multi_sql(len(rest)), tuple(itertools.chain.from_iterable(rest)))

    def _write_one_by_one(self, rows: list[tuple[Any, ...]]) -> None:
        for values in rows:
            try:
                row = dict(zip(COLUMNS, values, strict=True))

                def insert(conn: sa.Connection, row: dict[str, Any] = row) -> None:
                    conn.execute(spans.insert(), row)

                self.ws.write(insert)
                self.written += 1
            except sa.exc.IntegrityError:
                self.dropped += 1

    def _values(self, rec: SpanRecord) -> tuple[Any, ...]:
        values = rec.values()
        inp, out, err, attrs = values[_INPUT], values[_OUTPUT], values[_ERROR], values[_ATTRS]
        if inp is None and out is None and err is None and (attrs is None or not self._check_attrs):
            return values
        redact = self.redactor
        limit = self.max_body_chars
        row = list(values)
        for i in (_INPUT, _OUTPUT, _ERROR):
            text = row[i]
            if text is not None:
                if len(text) > limit:
                    text = text[:limit] + f"...[truncated {len(text) - limit} chars]"
                row[i] = redact(text)
        if attrs is not None and self._check_attrs:
            row[_ATTRS] = redact(attrs)
        # keep the redacted text on the record, so exporters never see the raw body
        rec.input, rec.output, rec.error = row[_INPUT], row[_OUTPUT], row[_ERROR]
        return tuple(row)


# SQLite allows 32766 bound variables per statement since 3.32 (999 before)
_ROWS_PER_STATEMENT = 200 if sqlite3.sqlite_version_info >= (3, 32) else 40


@functools.lru_cache(maxsize=8)
def _multi_sql(n: int) -> str:
    row = "(" + ",".join("?" * len(COLUMNS)) + ")"
    return f"INSERT INTO spans ({', '.join(COLUMNS)}) VALUES " + ",".join([row] * n)


_live: weakref.WeakSet[SpanWriter] = weakref.WeakSet()


def _flush_all_at_exit() -> None:
    for writer in list(_live):
        with contextlib.suppress(Exception):
            writer.close(timeout=10)


atexit.register(_flush_all_at_exit)
