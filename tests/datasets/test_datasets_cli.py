"""`ondo data ...`: every command with --json, and one-line errors for user mistakes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ondo.cli.main import app
from ondo.workspace import Workspace

runner = CliRunner()


def _json(args: list[str]) -> Any:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_data_commands_json(ws: Workspace, shared_data: Path, tmp_path: Path) -> None:
    src = tmp_path / "qa.jsonl"
    lines = (shared_data / "korean" / "horangi_mini" / "kmmlu_mini.jsonl").read_text(encoding="utf-8").splitlines()
    src.write_text("\n".join(lines[:60]) + "\n", encoding="utf-8")

    v1 = _json(["data", "add", str(src), "--name", "qa-train", "--message", "first", "--json"])
    assert (v1["name"], v1["version"], v1["rows"], v1["created"], v1["message"]) == ("qa-train", 1, 60, True, "first")
    again = _json(["data", "add", str(src), "--name", "qa-train", "--json"])
    assert (again["version"], again["created"], again["digest"]) == (1, False, v1["digest"])

    edited = json.loads(lines[3])
    first_key = next(iter(edited))
    edited[first_key] = "changed"
    src.write_text("\n".join([*lines[:3], json.dumps(edited, ensure_ascii=False), *lines[4:61]]) + "\n", encoding="utf-8")
    v2 = _json(["data", "add", str(src), "--name", "qa-train", "-m", "edit", "--json"])
    assert (v2["version"], v2["rows"]) == (2, 61)

    listing = _json(["data", "list", "--json"])
    assert [(d["name"], d["latest_version"], d["versions"]) for d in listing] == [("qa-train", 2, 2)]

    shown = _json(["data", "show", "qa-train@v1", "--json"])
    assert shown["version"] == 1 and shown["files"][0]["path"] == "qa.jsonl"
    prof = shown["profile"]
    assert prof["rows"] == 60 and prof["language_mix"]["ko"] > 0.5
    assert set(prof) >= {"columns", "null_counts", "text_length", "language_mix", "duplicate_rows", "bad_rows"}

    d = _json(["data", "diff", "qa-train@v1", "qa-train@v2", "--json"])
    assert (d["rows"]["added"], d["rows"]["removed"], d["rows"]["changed"]) == (2, 1, 0)
    assert d["files"]["changed"] == ["qa.jsonl"]

    co = _json(["data", "checkout", "qa-train@v2", str(tmp_path / "co"), "--json"])
    assert co["files"] == 1 and (tmp_path / "co" / "qa.jsonl").read_bytes() == src.read_bytes()

    ver = _json(["data", "verify", "qa-train", "--json"])
    assert ver["ok"] is True and ver["versions"] == ["qa-train@v1", "qa-train@v2"]

    al = _json(["data", "alias", "qa-train", "prod", "1", "--json"])
    assert (al["alias"], al["version"], al["from_version"]) == ("prod", 1, None)
    al = _json(["data", "alias", "qa-train", "prod", "v2", "--reason", "edit is fine", "--json"])
    assert (al["version"], al["from_version"]) == (2, 1)
    assert _json(["data", "show", "qa-train@prod", "--json"])["version"] == 2

    hist = _json(["data", "history", "qa-train", "--json"])
    assert [v["version"] for v in hist["versions"]] == [1, 2]
    assert [(e["from_version"], e["to_version"], e["reason"]) for e in hist["alias_events"]] == [
        (None, 1, None), (1, 2, "edit is fine"),
    ]
    sha = _json(["data", "show", f"qa-train@{v1['digest'][:14]}", "--json"])
    assert sha["version"] == 1

    # the tables for people render too
    for args in (["data", "list"], ["data", "show", "qa-train"], ["data", "history", "qa-train"],
                 ["data", "diff", "qa-train@v1", "qa-train@v2"], ["data", "verify"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output


def test_data_errors_are_one_line(ws: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n{oops}\n')
    result = runner.invoke(app, ["data", "add", str(bad), "--name", "bad"])
    assert result.exit_code == 1
    assert f"{bad}:2" in result.output and "Traceback" not in result.output

    ok = _json(["data", "add", str(bad), "--name", "bad", "--skip-bad-rows", "--json"])
    assert ok["bad_rows"] == 1 and ok["rows"] == 1

    result = runner.invoke(app, ["data", "show", "bda"])
    assert result.exit_code == 2 and "did you mean 'bad'" in result.output
    result = runner.invoke(app, ["data", "diff", "bad@v1", "bad@v7"])
    assert result.exit_code == 2 and "bad@v7" in result.output
    result = runner.invoke(app, ["data", "alias", "bad", "v2", "1"])
    assert result.exit_code == 1 and "invalid alias" in result.output


def test_add_folder_from_shared_data(ws: Workspace, shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mt"
    shutil.copytree(shared_data / "mt_bench", folder)
    out = _json(["data", "add", str(folder), "--name", "mt-bench", "--json"])
    assert out["files"] == len([p for p in folder.rglob("*") if p.is_file()])


def test_user_text_is_printed_literally_not_as_markup(ws: Workspace, tmp_path: Path) -> None:
    """A message or path holding rich markup ('[/x]', '[bold]') prints as typed, without a markup error."""
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"q": 1}\n', encoding="utf-8")
    added = runner.invoke(app, ["data", "add", str(folder), "--name", "qa", "-m", "[bold]fix[/x] labels"])
    assert added.exit_code == 0, added.output
    (folder / "[bold]b.jsonl").write_text('{"q": 2}\n', encoding="utf-8")
    assert runner.invoke(app, ["data", "add", str(folder), "--name", "qa"]).exit_code == 0

    shown = runner.invoke(app, ["data", "show", "qa@v1"])
    assert shown.exit_code == 0, shown.output
    assert "[bold]fix[/x] labels" in shown.output
    diff = runner.invoke(app, ["data", "diff", "qa@v1", "qa@v2"])
    assert diff.exit_code == 0, diff.output
    assert "+ [bold]b.jsonl" in diff.output
