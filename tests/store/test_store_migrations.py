"""Migrations: from an empty store, ``upgrade heads`` yields exactly the schema the table modules declare."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ondo.store import migrate
from ondo.store.tables import metadata
from ondo.workspace import Workspace

VERSIONS = Path(migrate.__file__).parent / "migrations" / "versions"


def test_upgrade_from_empty_has_no_autogenerate_diff(workspace: Workspace) -> None:
    with workspace.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == [], "migrations and store/tables disagree:\n" + "\n".join(map(repr, diff))


def test_every_declared_table_index_and_unique_constraint_exists(workspace: Workspace) -> None:
    insp = sa.inspect(workspace.engine)
    tables = set(insp.get_table_names())
    for table in metadata.sorted_tables:
        assert table.name in tables, f"table {table.name} missing after upgrade"
        found = {ix["name"]: list(ix["column_names"]) for ix in insp.get_indexes(table.name)}
        for ix in table.indexes:
            assert ix.name in found, f"index {ix.name} on {table.name} missing"
            assert found[ix.name] == [c.name for c in ix.columns], f"index {ix.name} has other columns"
        uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints(table.name)}
        uniques |= {tuple(ix["column_names"]) for ix in insp.get_indexes(table.name) if ix.get("unique")}
        for c in table.constraints:
            if isinstance(c, sa.UniqueConstraint):
                assert tuple(col.name for col in c.columns) in uniques, (
                    f"unique {c.name} on {table.name} missing"
                )
        pk = insp.get_pk_constraint(table.name)["constrained_columns"]
        assert pk == [c.name for c in table.primary_key.columns], f"primary key of {table.name} differs"


def test_tracking_query_paths_are_indexed(workspace: Workspace) -> None:
    """The indexes ingest, history, metric sort and lineage rely on."""
    insp = sa.inspect(workspace.engine)

    def index_columns(table: str) -> set[tuple[str, ...]]:
        return {tuple(ix["column_names"]) for ix in insp.get_indexes(table)}

    assert ("run_id", "key", "step") in index_columns("metrics")
    assert ("key", "value") in index_columns("latest_metrics")
    assert {("experiment_id",), ("status",), ("start_time",)} <= index_columns("runs")
    assert ("kind", "ref") in index_columns("run_inputs")
    assert insp.get_pk_constraint("latest_metrics")["constrained_columns"] == ["run_id", "key"]


def _applied(engine: sa.Engine) -> set[str]:
    """Every revision the store holds: its heads and all they build on (down revisions and depends_on)."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    current = tuple(migrate.current_revisions(engine))
    return {
        r.revision
        for r in script.revision_map.iterate_revisions(current, "base", inclusive=True, implicit_base=True)
        if r is not None
    }


def test_upgrade_is_idempotent_and_reaches_every_head(workspace: Workspace) -> None:
    before = migrate.current_revisions(workspace.engine)
    assert migrate.head_revisions() <= _applied(workspace.engine)
    migrate.upgrade(workspace.engine)
    assert migrate.current_revisions(workspace.engine) == before


def test_migration_files_follow_the_branch_rules() -> None:
    for path in sorted(VERSIONS.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"_mig_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        domain, _, number = path.stem.rpartition("_")
        assert mod.revision == path.stem, path.name
        if number == "0001":
            assert mod.down_revision is None, path.name
            assert tuple(mod.branch_labels or ()) == (domain,), path.name
            if domain != "core":
                assert "core_0001" in (
                    [mod.depends_on] if isinstance(mod.depends_on, str) else mod.depends_on or []
                )
        else:
            assert mod.down_revision == f"{domain}_{int(number) - 1:04d}", path.name
