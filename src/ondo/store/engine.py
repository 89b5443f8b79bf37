"""Engines for the embedded SQLite store and for PostgreSQL.

SQLite runs in WAL mode with a busy timeout, and every write transaction goes through
``write_retry`` so concurrent writers from several processes wait instead of surfacing
"database is locked" to the user.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from ondo.errors import StoreError

T = TypeVar("T")

_LOCK_MARKERS = ("database is locked", "database table is locked", "busy")


def create_engine(url: str) -> Engine:
    """Create an engine for ``url``; for SQLite make sure the folder exists and is writable."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    if url.startswith("postgres://"):  # the spelling Heroku and many .env files use
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme != "postgresql" and "://" in url:
        raise StoreError(
            f"unsupported store URL {redact(url)}: ondo stores in SQLite (sqlite:///path/ondo.db) "
            "or PostgreSQL (postgresql+psycopg://user:password@host/db)"
        )
    try:
        return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except ModuleNotFoundError as exc:  # e.g. psycopg missing
        raise StoreError(
            f"cannot open store {redact(url)}: driver not installed ({exc.name}); install ondo[postgres]"
        ) from exc
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"invalid store URL {redact(url)}: {exc}") from exc


def _sqlite_engine(url: str) -> Engine:
    path = sa.engine.make_url(url).database
    if path and path != ":memory:":
        folder = Path(path).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror
            if isinstance(exc, FileExistsError | NotADirectoryError):
                reason = "a file stands where a folder must be; set ONDO_HOME to a folder"
            raise StoreError(f"cannot create ondo home {folder}: {reason}") from exc
        # one probe name per process: concurrent processes opening one store must not delete each other's
        probe = folder / f".ondo-write-probe-{os.getpid()}-{random.getrandbits(32):08x}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"ondo home {folder} is not writable: {exc.strerror}; set ONDO_HOME to a writable folder") from exc
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (BEGIN IMMEDIATE below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # Writers take the lock up front: a deferred transaction that upgrades to a write lock gets
        # SQLITE_BUSY at once, which busy_timeout cannot wait out. Readers take a plain snapshot.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ondo_write") else "BEGIN")

    return engine


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) and any(m in str(exc.orig).lower() for m in _LOCK_MARKERS)


def write_retry(engine: Engine, fn: Callable[[sa.Connection], T], attempts: int = 60) -> T:
    """Run ``fn`` in one write transaction, retrying on lock contention with jittered backoff."""
    delay = 0.01
    for attempt in range(attempts):
        try:
            with engine.execution_options(ondo_write=True).begin() as conn:
                return fn(conn)
        except DBAPIError as exc:
            if (not is_lock_error(exc) and not _is_serialization_error(exc)) or attempt == attempts - 1:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.5)
    raise AssertionError("unreachable")


def _is_serialization_error(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in ("40001", "40P01")


def redact(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<store url>" if "@" in url else repr(url)
