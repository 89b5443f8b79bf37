"""What prompt versions and model versions share: ``name`` / ``name/N`` arguments and mutable tags.

Both are numbered, immutable versions per name whose only mutable part is their tags, kept in the one
``registry_tags`` table under their kind (``"prompt"`` or ``"model"``); these helpers serve both so the two
registries cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from ondo.errors import InvalidInput
from ondo.ids import check_version, parse_ref
from ondo.store.tables.registry import registry_tags


def split_name(name: str, version: int | None, kind: str) -> tuple[str, int | None]:
    """Accept ``("summarize/2", None)`` as well as ``("summarize", 2)``; ``kind`` names the thing in messages."""
    r = parse_ref(name)
    if r.alias is not None or r.digest is not None:
        raise InvalidInput(f"expected a {kind} name or name/N, got '{name}'")
    if version is not None:
        if isinstance(version, str) and version.strip().isdigit():
            version = int(version)
        version = check_version(version)
    if r.version is not None and version is not None and r.version != version:
        raise InvalidInput(f"'{name}' names version {r.version} but version={version} was given")
    return r.name, version if version is not None else r.version


def check_tag_key(key: object) -> str:
    """A tag key is non-empty text."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput(f"a tag key is non-empty text, not {key!r}", field="tags")
    return key


def check_tags(tags: object) -> dict[str, str]:
    """Tags given at registration: a mapping of non-empty text keys; values are stored as text."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidInput(f"tags must be a mapping such as {{'team': 'nlp'}}, not {type(tags).__name__}", field="tags")
    return {check_tag_key(k): str(v) for k, v in tags.items()}


def read_tags(conn: sa.Connection, kind: str, name: str, version: int) -> dict[str, str]:
    """The tags of one version, by key."""
    rows = conn.execute(
        sa.select(registry_tags.c.key, registry_tags.c.value).where(
            registry_tags.c.kind == kind, registry_tags.c.name == name, registry_tags.c.version == version
        ).order_by(registry_tags.c.key)
    ).all()
    return {r.key: r.value for r in rows}


def upsert_tag(conn: sa.Connection, kind: str, name: str, version: int, key: str, value: str) -> None:
    """Set one tag inside the caller's write transaction (portable: no dialect-specific upsert)."""
    where = (
        registry_tags.c.kind == kind, registry_tags.c.name == name,
        registry_tags.c.version == version, registry_tags.c.key == key,
    )
    if conn.execute(sa.select(registry_tags.c.key).where(*where)).first():
        conn.execute(registry_tags.update().where(*where).values(value=value))
    else:
        conn.execute(registry_tags.insert().values(kind=kind, name=name, version=version, key=key, value=value))


def delete_tag(conn: sa.Connection, kind: str, name: str, version: int, key: str) -> None:
    """Remove one tag inside the caller's write transaction (no error when it is not set)."""
    conn.execute(
        registry_tags.delete().where(
            registry_tags.c.kind == kind, registry_tags.c.name == name,
            registry_tags.c.version == version, registry_tags.c.key == key,
        )
    )
