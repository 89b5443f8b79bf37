"""Dataset versions and the stat cache that lets a re-add skip re-hashing untouched files.

A version row is only the pointer: its content is the manifest blob named by ``digest``
(files, row lists, schemas); rows themselves live in content-addressed row packs in the blob
store. ``(name, digest)`` is unique so two processes adding the same content get one version.
"""

from __future__ import annotations

import sqlalchemy as sa

from ondo.store.tables.base import BigIntPK, Name, metadata

dataset_versions = sa.Table(
    "dataset_versions",
    metadata,
    sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
    sa.Column("name", Name, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(71), nullable=False),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("actor", sa.String(255), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("file_count", sa.Integer, nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("bad_rows", sa.BigInteger, nullable=False, server_default="0"),
    # Derived statistics, computed on first request and kept (the version itself never changes).
    sa.Column("profile", sa.JSON, nullable=True),
    sa.UniqueConstraint("name", "version"),
    sa.UniqueConstraint("name", "digest"),
    sa.Index("ix_dataset_versions_digest", "digest"),
)

# (host, absolute path) -> the digest the file had when it looked like (size, mtime_ns, inode).
dataset_stat_cache = sa.Table(
    "dataset_stat_cache",
    metadata,
    sa.Column("host", sa.String(255), primary_key=True),
    sa.Column("path", sa.String(2048), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
    sa.Column("inode", sa.BigInteger, nullable=False),
    sa.Column("digest", sa.String(71), nullable=False),
    sa.Column("hashed_at_ns", sa.BigInteger, nullable=False),
)

# Where a small file's bytes are: files up to a size limit are packed many to a blob (one write
# instead of thousands), so this maps file digest -> (pack blob, offset). Any recorded location
# holds the same bytes; the first one recorded is kept.
dataset_file_locations = sa.Table(
    "dataset_file_locations",
    metadata,
    sa.Column("digest", sa.String(71), primary_key=True),
    sa.Column("pack", sa.String(71), nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
)
