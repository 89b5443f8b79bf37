from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ondo.blobs import BlobStore, digest_bytes, digest_file, pack_name


def test_put_and_get_bytes_is_content_addressed(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "blobs"))
    d1 = store.put_bytes(b"hello")
    d2 = store.put_bytes(b"hello")
    assert d1 == d2 == "sha256:" + hashlib.sha256(b"hello").hexdigest()
    assert store.get_bytes(d1) == b"hello"
    assert list(store.iter_digests()) == [d1]


def test_put_file_stores_identical_content_once(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"x" * 3_000_000)
    b.write_bytes(b"x" * 3_000_000)
    store = BlobStore(str(tmp_path / "blobs"))
    assert store.put_file(a) == store.put_file(b) == digest_file(a)
    assert len(list(store.iter_digests())) == 1
    out = tmp_path / "out" / "copy.bin"
    store.get_file(digest_file(a), out)
    assert out.read_bytes() == a.read_bytes()


def test_a_pack_is_named_by_its_members_in_order(tmp_path: Path) -> None:
    a, b = digest_bytes(b"aa"), digest_bytes(b"bbb")
    assert pack_name([(a, 2), (b, 3)]) == pack_name([(a, 2), (b, 3)])
    names = {pack_name([(a, 2), (b, 3)]), pack_name([(b, 3), (a, 2)]), pack_name([(a, 2)]), pack_name([(a, 2), (b, 4)])}
    assert len(names) == 4  # order, membership and sizes all change the name
    store = BlobStore(str(tmp_path / "blobs"))
    name = pack_name([(a, 2), (b, 3)])
    assert name.startswith("pack:") and store.put_bytes(b"aabbb", name) == name
    assert store.get_bytes(name) == b"aabbb" and store.verify(name)  # a pack is checked through its members
    assert store.path_of(name).startswith(f"{store.root}/pack/")
    assert list(store.iter_digests()) == [name]
    with pytest.raises(ValueError, match="not a sha256 digest"):
        pack_name([(name, 5)])


def test_verify_detects_corruption_and_absence(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "blobs"))
    d = store.put_bytes(b"payload")
    assert store.verify(d)
    Path(store.path_of(d)).write_bytes(b"tampered")
    assert not store.verify(d)
    missing = "sha256:" + "0" * 64
    assert not store.verify(missing)
    with pytest.raises(FileNotFoundError, match="missing"):
        store.get_bytes(missing)


def test_no_temporary_files_left_behind(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "blobs"))
    store.put_bytes(b"abc")
    leftovers = [p for p in (tmp_path / "blobs").rglob("*") if ".tmp-" in p.name]
    assert leftovers == []


def test_memory_filesystem_url_works() -> None:
    store = BlobStore("memory://ondo-test-blobs")
    d = store.put_bytes(b"remote")
    assert store.exists(d) and store.get_bytes(d) == b"remote"


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=4096))
def test_round_trip_any_bytes(tmp_path: Path, data: bytes) -> None:
    store = BlobStore(str(tmp_path / "blobs"))
    assert store.get_bytes(store.put_bytes(data)) == data
