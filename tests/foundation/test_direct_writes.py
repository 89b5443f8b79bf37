"""Blob files written past the page cache hold exactly the bytes given, wherever they are written."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ondo.blobs import direct as direct_mod
from ondo.blobs.direct import DirectAppender

_FOLDERS = [pytest.param("tmp", id="disk"), pytest.param("/dev/shm", id="tmpfs")]


def _folder(where: str, tmp_path: Path) -> Path:
    if where == "tmp":
        return tmp_path
    if not os.path.isdir(where):
        pytest.skip(f"{where} is not here")
    return Path(where)


@pytest.mark.parametrize("where", _FOLDERS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(st.integers(0, 20_000), max_size=8), seed=st.integers(0, 255))
def test_appended_bytes_come_back_exactly(where: str, tmp_path: Path, chunks: list[int], seed: int) -> None:
    folder = _folder(where, tmp_path)
    target = folder / f"ondo-direct-{os.getpid()}-{seed}-{len(chunks)}.bin"
    parts = [bytes((seed + i + j) % 256 for j in range(n)) for i, n in enumerate(chunks)]
    out = DirectAppender(str(target), buffer_bytes=8192)  # small buffer: every boundary gets crossed
    try:
        for p in parts:
            out.write(p)
        out.close()
        assert target.read_bytes() == b"".join(parts)
        assert out.size == sum(chunks)
    finally:
        target.unlink(missing_ok=True)


@pytest.mark.parametrize("refuses", ["open", "write"])
def test_a_file_system_without_direct_io_gets_ordinary_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refuses: str
) -> None:
    """Some file systems refuse O_DIRECT when the file is opened, others on the first write (EINVAL)."""
    real_open, real_write = os.open, os.write
    o_direct = getattr(os, "O_DIRECT", 0)
    if not o_direct:
        pytest.skip("no O_DIRECT on this platform")

    def open_(path: str, flags: int, mode: int = 0o777) -> int:
        if refuses == "open" and flags & o_direct:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    def write(fd: int, data: object) -> int:
        if refuses == "write" and fcntl.fcntl(fd, fcntl.F_GETFL) & o_direct:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)  # type: ignore[arg-type]

    monkeypatch.setattr(direct_mod.os, "open", open_)
    monkeypatch.setattr(direct_mod.os, "write", write)
    target = tmp_path / "plain.bin"
    out = DirectAppender(str(target), buffer_bytes=8192)
    out.write(b"y" * 20_000)
    out.close()
    assert not out.direct
    assert target.read_bytes() == b"y" * 20_000


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "there.bin"
    target.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        DirectAppender(str(target))
    assert target.read_bytes() == b"keep"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 20_000), max_size=6), drops=st.lists(st.booleans(), min_size=6, max_size=6))
def test_bytes_read_in_place_come_back_and_a_drop_forgets_them_while_buffered(
    tmp_path: Path, sizes: list[int], drops: list[bool]
) -> None:
    """read_from appends a file's bytes straight into the write buffer and shows each stretch to
    the caller; drop_to takes a file back only while none of it was written out."""
    target = tmp_path / f"ondo-read-{len(sizes)}-{sum(sizes)}.bin"
    target.unlink(missing_ok=True)
    out = DirectAppender(str(target), buffer_bytes=8192)
    kept: list[bytes] = []
    try:
        for i, n in enumerate(sizes):
            src = tmp_path / f"src{i}"
            body = os.urandom(n)
            src.write_bytes(body)
            mark = out.written
            seen = hashlib.sha256()
            with open(src, "rb", buffering=0) as f:
                assert out.read_from(f, n + 5, seen.update) == n  # stops at the end
            assert seen.digest() == hashlib.sha256(body).digest() and out.written == mark + n
            if drops[i]:
                dropped = out.drop_to(mark)
                assert dropped == (mark >= out.size)  # out.size: the bytes written out so far
                if dropped:
                    assert out.written == mark
                    continue
            kept.append(body)
        out.close()
        assert target.read_bytes() == b"".join(kept)
    finally:
        out.abort()
