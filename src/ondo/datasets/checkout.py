"""Materializing a version as files: whole files are copied out, row files are rebuilt from rows.

A rebuilt file is checked against the file digest the manifest recorded before it is put in
place, so a checkout is byte-identical to what was added or it fails loudly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from ondo.blobs import BlobStore, digest_bytes
from ondo.datasets.locations import Location
from ondo.datasets.manifest import FileEntry, Manifest
from ondo.datasets.packs import (
    ROWS_DIGEST,
    GroupRule,
    PackReader,
    RowIndex,
    RowList,
    load_group,
    load_index,
    rows_digest,
)
from ondo.errors import InvalidInput, StoreError


@dataclass(frozen=True)
class CheckoutResult:
    path: str
    files: int
    bytes: int


def rebuild(blobs: BlobStore, entry: FileEntry, reader: PackReader | None = None) -> bytes:
    """The bytes of a row file whose layout lets it be rebuilt from its rows."""
    assert entry.layout is not None and entry.rows is not None
    try:
        index = load_index(blobs, entry.rows)
        rl = RowList.concat(load_group(blobs, g.entries) for g in index.groups)
    except FileNotFoundError as exc:
        raise StoreError(f"cannot rebuild {entry.path}: {exc}; run `ondo data verify`") from None
    own = reader is None
    reader = reader or PackReader(blobs)
    try:
        data = entry.layout.build(reader.rows(rl))
    except FileNotFoundError as exc:
        raise StoreError(f"cannot rebuild {entry.path}: {exc}") from None
    finally:
        if own:
            reader.close()
    if not matches(entry, index, data):
        raise StoreError(f"rebuilt {entry.path} does not match its recorded digest; run `ondo data verify`")
    return data


def matches(entry: FileEntry, index: RowIndex, data: bytes) -> bool:
    """Whether rebuilt ``data`` is the file that was added: its sha256, or for a rows digest the
    hash of each group's bytes where the index says the group lies."""
    if not entry.digest.startswith(ROWS_DIGEST):
        return digest_bytes(data) == entry.digest
    if index.rule is None or entry.layout is None:
        return False
    mv = memoryview(data)
    pos = len(entry.layout.prefix)
    hashes = []
    for g in index.groups:
        hashes.append(hashlib.sha256(mv[pos : pos + g.span]).digest())
        pos += g.span
    return pos == len(data) and rows_digest(GroupRule(index.rule), bytes(mv[: len(entry.layout.prefix)]), hashes) == entry.digest


def _get(blobs: BlobStore, digest: str, path: str) -> bytes:
    try:
        return blobs.get_bytes(digest)
    except FileNotFoundError:
        raise StoreError(f"blob {digest} of {path} is missing; run `ondo data verify`") from None


def _target(dest: Path, rel: str) -> Path:
    target = (dest / rel).resolve()
    if dest.resolve() not in target.parents:
        raise InvalidInput(f"manifest path escapes the destination: {rel}")
    return target


def packed_bytes(reader: PackReader, entry: FileEntry, where: Location) -> bytes:
    """A small file's bytes out of its file pack, checked against its digest."""
    pack, off, size = where
    try:
        data: bytes = reader.pack(pack)[off : off + size]
    except FileNotFoundError:
        raise StoreError(f"file pack {pack} of {entry.path} is missing; run `ondo data verify`") from None
    if digest_bytes(data) != entry.digest:
        raise StoreError(f"{entry.path} read from file pack {pack} is corrupted; run `ondo data verify`")
    return data


def checkout(
    blobs: BlobStore, manifest: Manifest, dest: str | os.PathLike[str], located: dict[str, Location] | None = None
) -> CheckoutResult:
    """Write every file of ``manifest`` under ``dest`` (created if missing; other files are left alone).

    ``located`` gives the file-pack locations of small files (see ``locations``)."""
    root = Path(dest).expanduser().absolute()
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"checkout destination {dest} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    located = located or {}
    total = 0
    with PackReader(blobs) as reader:
        for entry in manifest.files:
            target = _target(root, entry.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
            try:
                if entry.packed and entry.digest in located:
                    tmp.write_bytes(packed_bytes(reader, entry, located[entry.digest]))
                elif entry.stored_whole:
                    if blobs.local:
                        try:
                            shutil.copyfile(blobs.path_of(entry.digest), tmp)
                        except FileNotFoundError:
                            raise StoreError(
                                f"blob {entry.digest} of {entry.path} is missing; run `ondo data verify`"
                            ) from None
                    else:
                        tmp.write_bytes(_get(blobs, entry.digest, entry.path))
                else:
                    tmp.write_bytes(rebuild(blobs, entry, reader))
                os.replace(tmp, target)
            finally:
                if tmp.exists():
                    tmp.unlink()
            total += entry.size
    return CheckoutResult(str(root), len(manifest.files), total)
