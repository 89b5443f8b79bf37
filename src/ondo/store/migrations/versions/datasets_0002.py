"""datasets: dataset_file_locations (small files packed many to a blob)"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "datasets_0002"
down_revision = "datasets_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_file_locations",
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("pack", sa.String(71), nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_dataset_file_locations"),
    )


def downgrade() -> None:
    op.drop_table("dataset_file_locations")
