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
