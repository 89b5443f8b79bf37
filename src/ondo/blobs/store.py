"""A content-addressed blob store over fsspec.

Blobs are named by ``sha256:<hex>`` and laid out as ``<root>/sha256/ab/cdef...``. Writes go
to a temporary name and are renamed into place, so a reader never sees half a blob and
a killed writer leaves only a temporary file. Identical content is stored once.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import uuid
from collections.abc import Iterator
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


def _hex(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64:
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return hexpart


class BlobStore:
    """Put and get immutable blobs by digest, on a local folder or any fsspec URL (s3://...)."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **storage_options)
        self.local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def path_of(self, digest: str) -> str:
        h = _hex(digest)
        return f"{self.root}/sha256/{h[:2]}/{h[2:]}"

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self.path_of(digest)))

    def put_bytes(self, data: bytes) -> str:
        digest = digest_bytes(data)
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
        """Re-hash a stored blob; False when missing or corrupted."""
        h = hashlib.sha256()
        try:
            with self.open(digest) as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
        except FileNotFoundError:
            return False
        return h.hexdigest() == _hex(digest)

    def iter_digests(self) -> Iterator[str]:
        base = f"{self.root}/sha256"
        if not self.fs.exists(base):
            return
        for p in self.fs.find(base):
            parts = str(p).rstrip("/").split("/")
            if ".tmp-" in parts[-1]:
                continue
            yield "sha256:" + parts[-2] + parts[-1]

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
