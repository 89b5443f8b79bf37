"""Bring a store's schema to the newest revision of every domain branch (``upgrade heads``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy.engine import Engine

_HERE = Path(__file__).parent / "migrations"


class UnknownSchema(Exception):
    """The store records schema revisions this ondo does not have (written by a newer ondo)."""

    def __init__(self, revisions: set[str]) -> None:
        self.revisions = revisions
        super().__init__(", ".join(sorted(revisions)))


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    return cfg


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def applied_revisions(engine: Engine) -> set[str]:
    """Every revision the store has, including those Alembic no longer lists as heads.

    Alembic records only the tips of the branches; a branch another one depends on (``core``)
    stops being a recorded head once its dependents are applied, so compare ancestries.
    """
    current = current_revisions(engine)
    if not current:
        return set()
    script = ScriptDirectory.from_config(alembic_config())
    unknown = {rev for rev in current if _lookup(script, rev) is None}
    if unknown:
        raise UnknownSchema(unknown)
    return {r.revision for r in script.iterate_revisions(tuple(current), "base") if r is not None}


def _lookup(script: ScriptDirectory, revision: str) -> object | None:
    try:
        return script.get_revision(revision)
    except (RevisionError, CommandError):
        return None


def is_current(engine: Engine) -> bool:
    return head_revisions() <= applied_revisions(engine)


def upgrade(engine: Engine) -> None:
    """Apply every pending migration; a no-op when the store is current."""
    if is_current(engine):
        return
    cfg = alembic_config()
    with engine.execution_options(ondo_write=True).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
