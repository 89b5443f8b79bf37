"""A content-addressed blob store over fsspec.

Blobs are named by ``sha256:<hex>`` and laid out as ``<root>/sha256/ab/cdef...``. Writes go
to a temporary name and are renamed into place, so a reader never sees half a blob and
a killed writer leaves only a temporary file. Identical content is stored once.

A *pack* (``pack:<hex>``, under ``<root>/pack/``) is many blobs written back to back as one
file. It is named by the sha256 of its member list (each member's digest and size, in order),
as git names its pack files by the objects in them, not by the pack's bytes: the members are
hashed anyway, and hashing the whole pack a second time cost as much again. The name still
fixes the content (equal names mean equal members, so equal bytes), so identical packs are
stored once; a pack is checked through its members (``pack_name`` and the members' digests).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import fsspec

CHUNK = 1 << 20


def digest_bytes(data: bytes | memoryview | mmap.mmap) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def pack_name(members: Iterable[tuple[str, int]]) -> str:
    """The name of the pack holding blobs with these (digest, size), in this order."""
    h = hashlib.sha256(b"ondo pack 1\n")
    for digest, size in members:
        h.update(bytes.fromhex(_hex(digest)))
        h.update(size.to_bytes(8, "little"))
    return "pack:" + h.hexdigest()


def is_pack(name: str) -> bool:
    return name.startswith("pack:")


def _split(digest: str) -> tuple[str, str]:
    algo, _, hexpart = digest.partition(":")
    if algo not in ("sha256", "pack") or len(hexpart) != 64:
        raise ValueError(f"not a sha256 digest or pack name: {digest!r}")
    return algo, hexpart


def _hex(digest: str) -> str:
    algo, hexpart = _split(digest)
    if algo != "sha256":
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return hexpart


class BlobStore:
    """Put and get immutable blobs by digest, on a local folder or any fsspec URL (s3://...)."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **storage_options)
        self.local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def path_of(self, digest: str) -> str:
        algo, h = _split(digest)
        return f"{self.root}/{algo}/{h[:2]}/{h[2:]}"

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self.path_of(digest)))

    def put_bytes(self, data: bytes, digest: str | None = None) -> str:
        """Store ``data`` under its digest, or under ``digest`` (a pack name, or a digest already computed)."""
        digest = digest or digest_bytes(data)
        if not self.exists(digest):
            self._write_atomic(digest, lambda f: f.write(data))
        return digest

    def put_file(self, path: str | os.PathLike[str], digest: str | None = None) -> str:
        digest = digest or digest_file(path)
        if not self.exists(digest):
            if self.local:
                self._write_atomic(digest, lambda f: _copy_into(path, f))
            else:
                tmp = self.path_of(digest) + f".tmp-{uuid.uuid4().hex}"
                self.fs.put_file(str(path), tmp)
                self.fs.mv(tmp, self.path_of(digest))
        return digest

    def get_bytes(self, digest: str) -> bytes:
        with self.open(digest) as f:
            data: bytes = f.read()
        return data

    def open(self, digest: str) -> IO[bytes]:
        try:
            return self.fs.open(self.path_of(digest), "rb")  # type: ignore[no-any-return]
        except FileNotFoundError:
            raise FileNotFoundError(f"blob {digest} is missing from {self.url}") from None

    def get_file(self, digest: str, dest: str | os.PathLike[str]) -> None:
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        tmp = f"{dest}.tmp-{uuid.uuid4().hex}"
        self.fs.get_file(self.path_of(digest), tmp)
        os.replace(tmp, dest)

    def verify(self, digest: str) -> bool:
        """Re-hash a stored blob; False when missing or corrupted. A pack is checked through its
        members (``pack_name``): this says only whether it is there."""
        if is_pack(digest):
            return self.exists(digest)
        h = hashlib.sha256()
        try:
            with self.open(digest) as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
        except FileNotFoundError:
            return False
        return h.hexdigest() == _hex(digest)

    def iter_digests(self) -> Iterator[str]:
        """Every stored blob and pack."""
        for algo in ("sha256", "pack"):
            base = f"{self.root}/{algo}"
            if not self.fs.exists(base):
                continue
            for p in self.fs.find(base):
                parts = str(p).rstrip("/").split("/")
                if ".tmp-" in parts[-1]:
                    continue
                yield f"{algo}:" + parts[-2] + parts[-1]

    def local_tmp(self) -> str:
        """A fresh temporary path in a local store, on the blobs' file system (so ``adopt`` is a
        rename): for writers that hash while they write and learn the digest only at the end."""
        tmp_dir = os.path.join(self.root, "tmp")
        os.makedirs(tmp_dir, exist_ok=True)
        return os.path.join(tmp_dir, uuid.uuid4().hex)

    def sweep_tmp(self, min_age_s: float = 3600.0) -> int:
        """Remove temporary files left by writers that died (``kill -9`` in the middle of an add), once
        they are ``min_age_s`` old: a live writer's file is younger (each write updates its mtime).
        Returns how many were removed."""
        if not self.local:
            return 0
        tmp_dir = os.path.join(self.root, "tmp")
        try:
            names = os.listdir(tmp_dir)
        except FileNotFoundError:
            return 0
        cutoff = time.time() - min_age_s
        removed = 0
        for name in names:
            path = os.path.join(tmp_dir, name)
            try:
                if os.stat(path).st_mtime < cutoff:
                    os.unlink(path)
                    removed += 1
            except FileNotFoundError:
                continue  # its writer finished (or another sweep took it) meanwhile
        return removed

    def adopt(self, tmp: str, digest: str) -> None:
        """Move the finished file ``tmp`` (from ``local_tmp``) in place as ``digest``; when that blob
        is already stored, ``tmp`` is removed instead."""
        final = self.path_of(digest)
        if os.path.exists(final):
            os.unlink(tmp)
        else:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(tmp, final)

    def _write_atomic(self, digest: str, write: Any) -> None:
        final = self.path_of(digest)
        tmp = f"{final}.tmp-{uuid.uuid4().hex}"
        self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        try:
            with self.fs.open(tmp, "wb") as f:
                write(f)
            if self.local:
                os.replace(tmp, final)
            else:
                self.fs.mv(tmp, final)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)


def _copy_into(path: str | os.PathLike[str], out: IO[bytes]) -> None:
    with open(path, "rb") as src:
        while chunk := src.read(CHUNK):
            out.write(chunk)
