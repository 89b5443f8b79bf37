from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ondo.errors import InvalidInput
from ondo.ids import Ref, check_alias, parse_ref

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,20}", fullmatch=True)


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("summarizer", Ref("summarizer")),
        ("summarizer/3", Ref("summarizer", version=3)),
        ("summarizer@production", Ref("summarizer", alias="production")),
        ("qa-train@v4", Ref("qa-train", version=4)),
        ("qa-train@latest", Ref("qa-train")),
        ("qa-train@sha256:ab12", Ref("qa-train", digest="sha256:ab12")),
        ("org/model/2", Ref("org/model", version=2)),
        ("org/model@staging", Ref("org/model", alias="staging")),
    ],
)
def test_parses_every_form(text: str, ref: Ref) -> None:
    assert parse_ref(text) == ref


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty identifier"),
        ("a@b@c", "more than one '@'"),
        ("name@", "nothing after '@'"),
        ("name@sha256:XYZ", "lowercase hex"),
        ("name/0", "versions start at 1"),
        ("name/3x", "must be a positive integer"),
        ("-bad", "invalid name"),
        ("name@bad alias", "alias"),
    ],
)
def test_malformed_identifiers_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_ref(text)
    assert fragment in str(info.value)


@given(names, st.integers(min_value=1, max_value=10**6))
def test_version_round_trip(name: str, version: int) -> None:
    ref = parse_ref(f"{name}/{version}")
    assert ref == Ref(name, version=version)
    assert parse_ref(str(ref)) == ref
    assert parse_ref(f"{name}@v{version}") == ref


@given(names, st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,12}", fullmatch=True))
def test_alias_round_trip(name: str, alias: str) -> None:
    if alias == "latest" or (alias[0] == "v" and alias[1:].isdigit()):
        return
    assert parse_ref(str(parse_ref(f"{name}@{alias}"))) == Ref(name, alias=alias)


@pytest.mark.parametrize("alias", ["latest", "v3", "3abc", "has space"])
def test_reserved_or_bad_aliases_are_refused(alias: str) -> None:
    with pytest.raises(InvalidInput):
        check_alias(alias)
