"""Bring a store's schema to the newest revision of every domain branch (``upgrade heads``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

_HERE = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    return cfg


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def upgrade(engine: Engine) -> None:
    """Apply every pending migration; a no-op when the store is current."""
    if current_revisions(engine) == head_revisions():
        return
    cfg = alembic_config()
    with engine.execution_options(ondo_write=True).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
