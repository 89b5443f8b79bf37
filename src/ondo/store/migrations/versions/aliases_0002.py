"""aliases: structured details on alias events (a promotion gate's requirements and outcome)"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "aliases_0002"
down_revision = "aliases_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alias_events", sa.Column("details", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alias_events") as batch:
        batch.drop_column("details")
