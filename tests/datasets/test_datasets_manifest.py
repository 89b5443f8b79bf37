"""The manifest's bytes are its version's digest: they must not depend on which JSON writer made them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ondo.datasets.manifest import FORMAT, FileEntry, Manifest
from ondo.datasets.rows import Layout

# Any text a path, column or error message may hold that UTF-8 can carry (no lone surrogates).
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_digest = st.binary(min_size=32, max_size=32).map(lambda b: "sha256:" + b.hex())

_entries = st.one_of(
    st.builds(FileEntry, path=_text, size=st.integers(0, 2**53), digest=_digest),
    st.builds(
        FileEntry, path=_text, size=st.integers(0, 2**53), digest=_digest, kind=st.just("rows"),
        format=st.sampled_from(["jsonl", "csv", "tsv", "parquet"]), rows=_digest, row_count=st.integers(0, 2**40),
        columns=st.lists(_text, max_size=5),
        layout=st.none() | st.builds(Layout, st.binary(max_size=40), st.sampled_from([b"\n", b"\r\n"]), st.booleans()),
        bad_rows=st.integers(0, 100),
        bad_samples=st.lists(st.fixed_dictionaries({"line": st.integers(1, 10**9), "error": _text}), max_size=3),
    ),
)


@given(st.lists(_entries, max_size=8))
def test_manifest_bytes_are_the_canonical_json_dump(files: list[FileEntry]) -> None:
    m = Manifest(files)
    body = {"format": FORMAT, "files": [f.to_dict() for f in sorted(files, key=lambda f: f.path)]}
    assert m.encode() == json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert Manifest.decode(m.encode()).encode() == m.encode()


@given(st.lists(_entries, max_size=6), st.lists(_entries, max_size=6), st.lists(_entries, max_size=6))
def test_a_manifest_encoded_like_its_previous_version_has_the_same_bytes(
    old: list[FileEntry], shared: list[FileEntry], new: list[FileEntry]
) -> None:
    """Entries a re-add keeps are not encoded again; the bytes are those of a fresh encoding."""
    before = Manifest(old + shared)
    before.encode()
    after = Manifest(shared + new)
    assert after.encode(like=before) == Manifest(list(after.files)).encode()


def test_a_manifest_s_entries_by_path_are_read_only() -> None:
    """by_path is kept with the manifest, so it must not be changed through what it returns."""
    m = Manifest([FileEntry("a", 1, "sha256:" + "0" * 64)])
    assert m.by_path()["a"] is m.files[0]
    with pytest.raises(TypeError):
        m.by_path()["b"] = m.files[0]  # type: ignore[index]
