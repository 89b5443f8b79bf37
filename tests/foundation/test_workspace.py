from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from ondo.config import Settings
from ondo.errors import StoreError
from ondo.store import migrate
from ondo.workspace import Workspace, reset_default_cache


def test_default_store_is_sqlite_in_wal_mode_under_ondo_home(ondo_home: Path) -> None:
    if os.environ.get("ONDO_STORE_URL", "").startswith("postgresql"):
        pytest.skip("SQLite-specific")
    ws = Workspace.default()
    assert ws.settings.store_url == f"sqlite:///{ondo_home / 'ondo.db'}"
    with ws.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (ondo_home / "ondo.db").exists()


def test_migrations_reach_every_head(workspace: Workspace) -> None:
    assert migrate.is_current(workspace.engine)
    assert migrate.head_revisions() <= migrate.applied_revisions(workspace.engine)
    tables = set(sa.inspect(workspace.engine).get_table_names())
    assert {"experiments", "runs", "metrics", "aliases", "alias_events"} <= tables


def test_unwritable_home_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() == 0:
        target = Path("/proc/ondo-cannot-exist")  # root can write anywhere else
    else:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(0o500)
    with pytest.raises(StoreError) as info:
        Workspace(
            Settings(home=target, store_url=f"sqlite:///{target / 'ondo.db'}", artifacts_url=str(target))
        )
    assert str(target) in str(info.value)


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "ondo.db"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="corrupt or not an ondo database"):
        Workspace(Settings(home=tmp_path, store_url=f"sqlite:///{db}", artifacts_url=str(tmp_path / "b")))


def test_cli_reports_store_errors_without_traceback(tmp_path: Path) -> None:
    db = tmp_path / "ondo.db"
    db.write_bytes(b"garbage" * 500)
    env = {**os.environ, "ONDO_HOME": str(tmp_path)}
    env.pop("ONDO_STORE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "ondo.cli.main", "runs", "list"], env=env, capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "corrupt" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    reset_default_cache()


def test_unreachable_server_is_one_line_naming_the_store_without_its_password() -> None:
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://ondo:s3cret@127.0.0.1:1/nowhere"  # port 1: nothing listens
    with pytest.raises(StoreError) as err:
        Workspace(Settings(home=Path("/nonexistent"), store_url=url, artifacts_url="memory://b"))
    msg = str(err.value)
    assert "\n" not in msg and "127.0.0.1:1/nowhere" in msg and "s3cret" not in msg


def test_unparsable_store_url_is_named() -> None:
    with pytest.raises(StoreError, match="invalid store URL 'not-a-url'"):
        Workspace(Settings(home=Path("/nonexistent"), store_url="not-a-url", artifacts_url="memory://b"))


@pytest.mark.parametrize("below", ["", "home"])
def test_a_file_as_ondo_home_is_named(tmp_path: Path, below: str) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    home = blocker / below if below else blocker
    with pytest.raises(StoreError, match="a file stands where a folder must be") as err:
        Workspace(Settings(home=home, store_url=f"sqlite:///{home / 'ondo.db'}", artifacts_url=str(home)))
    assert str(home) in str(err.value) and "\n" not in str(err.value)


def test_a_store_that_refuses_writes_is_a_store_error_and_writes_nothing(tmp_path: Path) -> None:
    import ondo

    home = tmp_path / "home"
    ws = Workspace(
        Settings(home=home, store_url=f"sqlite:///{home / 'ondo.db'}", artifacts_url=str(home / "b"))
    )
    from ondo.store.tables.core import runs

    with ondo.start_run(experiment="ro", params={"lr": 0.1}, workspace=ws) as run:
        pass
    with ondo.start_run(experiment="ro", workspace=ws) as silent:
        pass
    # a run whose process died long ago: readers would mark it killed, but may not write here
    ws.write(
        lambda c: c.execute(
            runs.update().where(runs.c.id == silent.id).values(status="running", heartbeat_at=1.0)
        )
    )
    ws.engine.dispose()
    sa.event.listen(ws.engine, "connect", lambda conn, _rec: conn.execute("PRAGMA query_only=ON"))
    with pytest.raises(StoreError, match=r"cannot write to the store at .*ondo\.db.*readonly") as err:
        ondo.Client(workspace=ws).log_params(run.id, {"batch": 8})
    assert "\n" not in str(err.value)
    with pytest.raises(ondo.StoreError):  # exported with the other user-facing errors
        ondo.start_run(experiment="ro-2", workspace=ws)
    info = ondo.Client(workspace=ws).get_run(run.id)
    assert info.params == {"lr": "0.1"} and info.status == "finished"
    assert [e.name for e in ondo.Client(workspace=ws).list_experiments()] == ["ro"]
    assert {r.id for r in ondo.Client(workspace=ws).search_runs(experiment="ro")} == {run.id, silent.id}
    assert ondo.Client(workspace=ws).get_run(silent.id).status == "running"
    ws.close()


def test_a_store_from_a_newer_ondo_is_named_not_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home, store_url=f"sqlite:///{home / 'ondo.db'}", artifacts_url=str(home / "b"))
    Workspace(settings).close()
    engine = sa.create_engine(settings.store_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('tracking_0099')")
    engine.dispose()
    with pytest.raises(StoreError, match="newer ondo") as err:
        Workspace(settings)
    assert "tracking_0099" in str(err.value) and str(home / "ondo.db") in str(err.value)
    proc = subprocess.run(
        [sys.executable, "-m", "ondo.cli.main", "runs", "list"],
        env={**os.environ, "ONDO_HOME": str(home), "ONDO_STORE_URL": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "newer ondo" in proc.stderr


def test_store_urls_other_than_sqlite_and_postgresql_are_refused_by_name() -> None:
    from ondo.store import engine as engines

    with pytest.raises(StoreError, match=r"unsupported store URL mysql://u:[*]+@db/x") as err:
        engines.create_engine("mysql://u:secret@db/x")
    assert "secret" not in str(err.value) and "postgresql+psycopg://" in str(err.value)
    pytest.importorskip("psycopg")
    # postgres:// (Heroku's spelling) is PostgreSQL through psycopg; no connection is made here
    assert engines.create_engine("postgres://u:p@127.0.0.1:1/x").url.drivername == "postgresql+psycopg"


@pytest.mark.parametrize("name", ["plain-name", "readonly-name", "malformed disk is full not a database"])
def test_a_constraint_error_is_the_statements_whatever_the_values_say(workspace: Workspace, name: str) -> None:
    """A duplicate key stays an IntegrityError (callers retry or report a Conflict), even when the
    clashing value holds words a broken store's message would (PostgreSQL quotes values in its message)."""
    from sqlalchemy.exc import IntegrityError

    from ondo.store.tables.core import experiments

    def insert(conn: sa.Connection) -> None:
        conn.execute(experiments.insert().values(id=uuid.uuid4().hex, name=name, created_at=1.0))

    workspace.write(insert)
    with pytest.raises(IntegrityError):
        workspace.write(insert)
