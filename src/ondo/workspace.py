"""A Workspace is what every domain function works against: settings, engine and blob store.

``Workspace.default()`` follows the environment (``ONDO_HOME``, ``ONDO_STORE_URL``,
``ONDO_ARTIFACTS_URL``) and is cached per settings, so a test that re-points ``ONDO_HOME``
gets a fresh one while a normal process opens its store once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, DataError, DBAPIError, IntegrityError, OperationalError

from ondo.blobs import BlobStore
from ondo.config import Settings
from ondo.errors import StoreError
from ondo.store import engine as engines
from ondo.store import migrate

T = TypeVar("T")

_lock = threading.Lock()
# Driver error codes that mean the store itself refuses writes, whatever the statement. Codes, not
# message text: a PostgreSQL message quotes the user's values ("Key (name)=(readonly-x) already exists").
_BROKEN_SQLITE = ("SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_PERM")
_BROKEN_PG = ("25006", "42501", "53100", "58030", "XX001", "XX002")  # read-only, no privilege, disk full, I/O, corrupt
_cache: dict[Settings, Workspace] = {}


class Workspace:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine = engines.create_engine(settings.store_url)
        try:
            migrate.upgrade(self.engine)
        except (DatabaseError, OperationalError) as exc:
            raise StoreError(_describe_open_error(settings, exc)) from exc
        except migrate.UnknownSchema as exc:
            where = (
                settings.store_url.removeprefix("sqlite:///")
                if settings.is_sqlite
                else engines.redact(settings.store_url)
            )
            raise StoreError(
                f"the store at {where} has schema revisions this ondo does not know ({exc}); "
                "it was written by a newer ondo: upgrade ondo, or set ONDO_HOME / ONDO_STORE_URL to another store"
            ) from exc
        try:
            self.blobs = BlobStore(settings.artifacts_url)
        except (ImportError, ValueError) as exc:
            raise StoreError(f"cannot open artifact store {settings.artifacts_url}: {exc}") from exc

    @classmethod
    def default(cls) -> Workspace:
        return cls.for_settings(Settings.from_env())

    @classmethod
    def for_url(cls, store_url: str | None) -> Workspace:
        return cls.for_settings(Settings.from_env(store_url))

    @classmethod
    def for_settings(cls, settings: Settings) -> Workspace:
        with _lock:
            ws = _cache.get(settings)
            if ws is None:
                ws = cls(settings)
                _cache[settings] = ws
            return ws

    def write(self, fn: Callable[[sa.Connection], T]) -> T:
        """Run ``fn`` in one write transaction, retried on lock contention.

        A store that cannot take the write at all (read-only file, full disk, damaged pages) is a
        StoreError naming the store: the transaction rolled back, so nothing of it was written.
        """
        try:
            return engines.write_retry(self.engine, fn)
        except DBAPIError as exc:
            if not _store_refuses_writes(exc):
                raise
            text = " ".join(str(exc.orig).split())
            where = (
                self.settings.store_url.removeprefix("sqlite:///")
                if self.settings.is_sqlite
                else engines.redact(self.settings.store_url)
            )
            raise StoreError(f"cannot write to the store at {where}: {text}") from exc

    def read(self) -> sa.Connection:
        """A connection for reads: ``with ws.read() as conn: ...``."""
        return self.engine.connect()

    def close(self) -> None:
        self.engine.dispose()


def _store_refuses_writes(exc: DBAPIError) -> bool:
    """The store cannot take writes at all; a constraint or data error is the statement's, never this."""
    if isinstance(exc, IntegrityError | DataError):
        return False
    name = getattr(exc.orig, "sqlite_errorname", None)
    if isinstance(name, str):
        return name.startswith(_BROKEN_SQLITE)
    state = getattr(exc.orig, "sqlstate", None)
    return isinstance(state, str) and state in _BROKEN_PG


def reset_default_cache() -> None:
    """Forget cached workspaces (tests re-point ONDO_HOME between cases)."""
    with _lock:
        for ws in _cache.values():
            ws.close()
        _cache.clear()


def _describe_open_error(settings: Settings, exc: Exception) -> str:
    # one line: drivers (psycopg) add hints on further lines, which would break the CLI's one-line message
    text = " ".join(str(getattr(exc, "orig", exc)).split())
    if settings.is_sqlite and ("not a database" in text or "malformed" in text):
        return f"the store at {settings.store_url.removeprefix('sqlite:///')} is corrupt or not an ondo database ({text})"
    return f"cannot open store {engines.redact(settings.store_url)}: {text}"
