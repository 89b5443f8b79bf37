"""The one identifier parser: malformed identifiers and out-of-range versions are precise one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import ondo
from ondo.cli.main import app
from ondo.errors import InvalidInput
from ondo.ids import MAX_VERSION, parse_ref
from ondo.workspace import Workspace


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("/3", "'/3': the name before '/' is missing"),
        ("@prod", "'@prod': the name before '@' is missing"),
        ("summarizer/3@prod", "not both"),
        ("summarizer/3@sha256:abcd", "not both"),
        (f"summarizer/{MAX_VERSION + 1}", "too large"),
        ("summarizer@v99999999999999999999", "too large"),
    ],
)
def test_malformed_identifiers_name_the_identifier(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_ref(text)
    assert fragment in str(info.value)


def test_largest_version_still_parses() -> None:
    assert parse_ref(f"m/{MAX_VERSION}").version == MAX_VERSION


def test_huge_or_bad_versions_are_errors_not_tracebacks(workspace: Workspace, tmp_path: Path) -> None:
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00w")
    ondo.models.register("m", source=weights)
    ondo.prompts.register("p", template="x")
    runner = CliRunner()
    huge = "99999999999999999999999"
    for args in (["models", "show", f"m/{huge}"], ["prompts", "show", f"p/{huge}"],
                 ["models", "alias", "m", "prod", huge], ["prompts", "alias", "p", "prod", huge],
                 ["models", "promote", f"m/{huge}", "--alias", "prod"], ["lineage", f"m/{huge}"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert "too large" in result.output or "between 1 and" in result.output, (args, result.output)
    for bad in (0, -1, True, 2.5, MAX_VERSION + 1):
        with pytest.raises(InvalidInput, match="version"):
            ondo.models.set_alias("m", "prod", version=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="version"):
            ondo.prompts.set_alias("p", "prod", version=bad)  # type: ignore[arg-type]
    assert ondo.models.history("m") == [] and ondo.prompts.history("p") == []


def test_wrong_types_are_input_errors_and_register_nothing(workspace: Workspace, tmp_path: Path) -> None:
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00w")
    v = ondo.models.register("m", source=weights)
    p = ondo.prompts.register("p", template="x {{ y }}")
    assert ondo.models.get(v) == v and ondo.prompts.get(p, cache=False) == p  # a version stands for its identifier
    calls = [
        (lambda: ondo.models.register("m", source=123), "model source must be a path"),  # type: ignore[arg-type]
        (lambda: ondo.models.register(5, source=weights), "invalid model name 5"),  # type: ignore[arg-type]
        (lambda: ondo.models.register("m", source=weights, tags=["a"]), "tags must be a mapping"),  # type: ignore[arg-type]
        (lambda: ondo.models.register("m", source=weights, tags={"": "a"}), "tag key"),
        (lambda: ondo.prompts.register("p", template="z", tags=["a"]), "tags must be a mapping"),  # type: ignore[arg-type]
        (lambda: ondo.prompts.register(5, template="z"), "invalid prompt name 5"),  # type: ignore[arg-type]
        (lambda: ondo.models.get(123), "invalid identifier 123"),  # type: ignore[arg-type]
        (lambda: ondo.prompts.get(123), "invalid identifier 123"),  # type: ignore[arg-type]
        (lambda: ondo.models.promote("m/1", alias=None), "invalid alias None"),  # type: ignore[arg-type]
        (lambda: ondo.models.set_alias("m", 5, version=1), "invalid alias 5"),  # type: ignore[arg-type]
        (lambda: ondo.prompts.set_tag("p/1", "", "v"), "tag key"),
        (lambda: ondo.models.set_tag("m/1", None, "v"), "tag key"),  # type: ignore[arg-type]
    ]
    for call, fragment in calls:
        with pytest.raises(InvalidInput, match=fragment):
            call()
    assert [x.version for x in ondo.models.list("m")] == [1] and [x.version for x in ondo.prompts.list("p")] == [1]
    assert ondo.models.get("m/1").tags == {} and ondo.prompts.get("p/1", cache=False).tags == {}
    one = ondo.models.register("m", source=weights, datasets="qa/1")  # one dataset alone, not its characters
    assert one.datasets == [{"ref": "qa/1", "digest": None}]
