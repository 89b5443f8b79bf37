"""Shared fixtures: every test gets its own ONDO_HOME; the shared benchmark data is located once."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ondo.workspace import Workspace, reset_default_cache

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
    if base_url:
        monkeypatch.setenv("ONDO_STORE_URL", _fresh_pg_database(base_url))
    else:
        monkeypatch.delenv("ONDO_STORE_URL", raising=False)
    monkeypatch.delenv("ONDO_ARTIFACTS_URL", raising=False)
    reset_default_cache()
    yield home
    reset_default_cache()


@pytest.fixture
def workspace(ondo_home: Path) -> Workspace:
    return Workspace.default()


def _fresh_pg_database(base_url: str) -> str:
    """Create an empty database for one test on the PostgreSQL server behind ``base_url``."""
    import sqlalchemy as sa

    name = "ondo_test_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return base_url.rsplit("/", 1)[0] + "/" + name
