"""Shared fixtures: every test gets its own ONDO_HOME; the shared benchmark data is located once."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from ondo.store import migrate
from ondo.store.engine import create_engine as create_store_engine
from ondo.workspace import Workspace, reset_default_cache

# CI draws the same examples every run (a failure there reproduces); local runs keep exploring.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]


# The PostgreSQL pass: CI sets ONDO_STORE_URL (or ONDO_TEST_PG_URL) to a server; each test gets its own database.
_PG_BASE = os.environ.get("ONDO_TEST_PG_URL") or (
    os.environ["ONDO_STORE_URL"] if os.environ.get("ONDO_STORE_URL", "").startswith("postgresql") else None
)


def _shared_data_dir() -> Path:
    env = os.environ.get("ONDO_SHARED_DATA")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = _shared_data_dir()
    if not path.is_dir():
        pytest.fail(f"shared benchmark data not found at {path}; set ONDO_SHARED_DATA")
    return path


@pytest.fixture(autouse=True)
def ondo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Isolate each test's store. With ONDO_STORE_URL set to PostgreSQL, each test gets a fresh schema."""
    home = tmp_path / "ondo-home"
    monkeypatch.setenv("ONDO_HOME", str(home))
    base_url = _PG_BASE
    db_url = _fresh_pg_database(base_url) if base_url else None
    if db_url:
        monkeypatch.setenv("ONDO_STORE_URL", db_url)
    else:
        monkeypatch.delenv("ONDO_STORE_URL", raising=False)
    monkeypatch.delenv("ONDO_ARTIFACTS_URL", raising=False)
    reset_default_cache()
    yield home
    reset_default_cache()
    if base_url and db_url:
        # Dropped, not left behind: thousands of leftover databases made a later server start crawl through recovery.
        _drop_pg_database(base_url, db_url.rsplit("/", 1)[1])


@pytest.fixture
def workspace(ondo_home: Path) -> Workspace:
    return Workspace.default()


_pg_template: str | None = None


def _fresh_pg_database(base_url: str) -> str:
    """Create an empty, already-migrated database for one test on the server behind ``base_url``.

    The first call migrates a template database once; every test then gets a cheap copy
    (CREATE DATABASE ... TEMPLATE), so the PostgreSQL pass does not re-run migrations per test.
    """
    import sqlalchemy as sa

    global _pg_template
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        if _pg_template is None:
            template = "ondo_tpl_" + uuid.uuid4().hex[:12]
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{template}"')
            engine = create_store_engine(_with_db(base_url, template))
            migrate.upgrade(engine)
            engine.dispose()
            _pg_template = template
        name = "ondo_test_" + uuid.uuid4().hex[:12]
        with admin.connect() as conn:
            # FILE_COPY (PostgreSQL 15+) copies the files: 15 ms a test on the fsync-off test cluster, WAL_LOG 100 ms.
            strategy = " STRATEGY FILE_COPY" if conn.dialect.server_version_info >= (15,) else ""
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"{strategy}')
    finally:
        admin.dispose()
    return _with_db(base_url, name)


def _drop_pg_database(base_url: str, name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_template() -> Iterator[None]:
    yield
    if _PG_BASE and _pg_template:
        _drop_pg_database(_PG_BASE, _pg_template)


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name
