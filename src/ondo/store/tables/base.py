"""The one MetaData every domain's tables hang on, and the column types they share."""

from __future__ import annotations

import sqlalchemy as sa

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)

# An auto-incrementing 64-bit key that SQLite also auto-increments (it only does so for INTEGER).
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Id = sa.String(32)
Name = sa.String(255)
