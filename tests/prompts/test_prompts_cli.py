"""``ondo prompts``: register from files, list, show, diff, alias, history, rollback, render; --json everywhere."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import ondo
from ondo.cli.main import app
from ondo.workspace import Workspace

runner = CliRunner()


def ondo_cli(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_register_list_show_diff_alias_history_rollback(workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "v1.j2").write_text("Summarize:\n{{ text }}\n")
    (tmp_path / "v2.yaml").write_text(
        "model: gpt-4o-mini\nparams: {temperature: 0.7}\nmessages:\n"
        "  - {role: system, content: 'Be brief.'}\n  - {role: user, content: 'Summarize: {{ text }}'}\n"
    )
    code, out = ondo_cli("prompts", "register", "summarize", tmp_path / "v1.j2", "--model", "gpt-4o-mini",
                         "-p", "temperature=0.2", "--json")
    assert code == 0
    v1 = json.loads(out)
    assert (v1["version"], v1["created"], v1["params"], v1["variables"]) == (1, True, {"temperature": 0.2}, ["text"])
    code, out = ondo_cli("prompts", "register", "summarize", tmp_path / "v2.yaml", "--alias", "production",
                         "-m", "chat version", "--json")
    v2 = json.loads(out)
    assert (v2["version"], v2["messages"][0]["role"], v2["alias_event"]["to_version"]) == (2, "system", 2)
    code, out = ondo_cli("prompts", "register", "summarize", tmp_path / "v2.yaml", "--json")
    assert json.loads(out)["version"] == 2 and json.loads(out)["created"] is False

    code, out = ondo_cli("prompts", "list", "--json")
    assert json.loads(out) == [{"name": "summarize", "latest": 2, "versions": 2, "aliases": {"production": 2},
                                "updated_at": json.loads(out)[0]["updated_at"]}]
    code, out = ondo_cli("prompts", "list", "summarize", "--json")
    assert [v["version"] for v in json.loads(out)] == [1, 2]
    code, out = ondo_cli("prompts", "show", "summarize@production", "--json")
    assert json.loads(out)["ref"] == "summarize/2" and json.loads(out)["aliases"] == ["production"]
    code, out = ondo_cli("prompts", "show", "summarize/1", "--json")
    assert json.loads(out)["aliases"] == []
    code, out = ondo_cli("prompts", "show", "summarize/1")
    assert code == 0 and "Summarize:" in out and "gpt-4o-mini" in out

    code, out = ondo_cli("prompts", "diff", "summarize/1", "summarize/2")
    assert code == 0
    assert "--- summarize/1/template" in out and "-Summarize:" in out and "+[system]" in out
    assert '-    "temperature": 0.2' in out and '+    "temperature": 0.7' in out
    code, out = ondo_cli("prompts", "diff", "summarize/1", "summarize/2", "--json")
    assert json.loads(out)["params_changed"] == {"temperature": [0.2, 0.7]}

    code, out = ondo_cli("prompts", "alias", "summarize/1", "staging", "--json")
    assert json.loads(out)["to_version"] == 1
    code, out = ondo_cli("prompts", "alias", "summarize", "production", "1", "-m", "revert to text", "--json")
    assert (json.loads(out)["from_version"], json.loads(out)["to_version"]) == (2, 1)
    code, out = ondo_cli("prompts", "rollback", "summarize", "--alias", "production", "--json")
    assert (json.loads(out)["action"], json.loads(out)["to_version"]) == ("rollback", 2)
    code, out = ondo_cli("prompts", "history", "summarize", "--alias", "production", "--json")
    assert [(e["action"], e["to_version"], e["reason"]) for e in json.loads(out)] == [
        ("set", 2, "chat version"), ("set", 1, "revert to text"), ("rollback", 2, "rollback from version 1 to version 2")
    ]
    code, out = ondo_cli("prompts", "history", "summarize", "--alias", "production", "--at", "2000-01-01", "--json")
    assert json.loads(out)["version"] is None
    code, out = ondo_cli("prompts", "history", "summarize")
    assert code == 0 and "staging" in out and "production" in out

    code, out = ondo_cli("prompts", "render", "summarize/1", "--var", "text=hello")
    assert out == "Summarize:\nhello\n\n"
    code, out = ondo_cli("prompts", "tag", "summarize/1", "owner=ml", "--json")
    assert json.loads(out)["tags"] == {"owner": "ml"}


def test_user_errors_exit_1_with_a_message(workspace: Workspace, tmp_path: Path) -> None:
    code, out = ondo_cli("prompts", "register", "s", tmp_path / "missing.j2")
    assert code == 1 and "does not exist" in out and "Traceback" not in out
    (tmp_path / "bad.yaml").write_text("messages:\n  - role: user\n    content: [unclosed\n")
    code, out = ondo_cli("prompts", "register", "s", tmp_path / "bad.yaml")
    assert code == 1 and "bad.yaml" in out and "invalid YAML" in out
    (tmp_path / "evil.j2").write_text("{{ cycler.__init__.__globals__.os.environ }}")
    code, out = ondo_cli("prompts", "register", "s", tmp_path / "evil.j2")
    assert code == 1 and "private attribute" in out
    (tmp_path / "ok.txt").write_text("Hi {{ name }} from {{ place }}")
    ondo_cli("prompts", "register", "s", tmp_path / "ok.txt")
    code, out = ondo_cli("prompts", "render", "s")
    assert code == 1 and "missing variables: name, place" in out
    code, out = ondo_cli("prompts", "show", "s@production")
    assert code == 2 and "not found" in out
    code, out = ondo_cli("prompts", "rollback", "s", "--alias", "production")
    assert code == 2


def test_mistakes_in_a_prompt_file_name_the_file(workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "bad.j2").write_text("Hello\n{{ x.__class__ }}\n")
    (tmp_path / "bad.yaml").write_text('messages:\n  - role: usr\n    content: "{{ q }}"\n')
    (tmp_path / "syntax.yaml").write_text('template: "{{ q "\n')
    code, out = ondo_cli("prompts", "register", "p", tmp_path / "bad.j2")
    assert code == 1 and f"{tmp_path / 'bad.j2'}:2: templates cannot access private attribute '__class__'" in out
    code, out = ondo_cli("prompts", "register", "p", tmp_path / "bad.yaml")
    assert code == 1 and f"{tmp_path / 'bad.yaml'} field 'messages[0].role': message 0 has role 'usr'" in out
    code, out = ondo_cli("prompts", "register", "p", tmp_path / "syntax.yaml")
    assert code == 1 and str(tmp_path / "syntax.yaml") in out and "(line 1 of the template)" in out
    code, out = ondo_cli("prompts", "register", "p", "--template", "{{ x.__y }}")
    assert code == 1 and "prompt p:1: templates cannot access private attribute '__y'" in out
    assert ondo.prompts.list() == []


def test_prompt_promote_through_a_gate(workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "p.j2").write_text("{{ q }}")
    ondo_cli("prompts", "register", "qa", tmp_path / "p.j2")
    code, out = ondo_cli("prompts", "promote", "qa/1", "--alias", "production", "--require", "exact_match>=0.5")
    assert code == 1 and "exact_match>=0.5: missing" in out
    with ondo.start_run(experiment="e") as run:
        ondo.prompts.get("qa/1").render(q="?")
        run.log_metric("exact_match", 0.6)
    code, out = ondo_cli("prompts", "check", "qa/1", "--require", "exact_match>=0.5", "--json")
    assert code == 0 and json.loads(out)[0]["run_id"] == run.id
    code, out = ondo_cli("prompts", "promote", "qa/1", "--alias", "production", "--require", "exact_match>=0.5",
                         "--json")
    assert code == 0 and json.loads(out)["promoted"] is True
    code, out = ondo_cli("lineage", "qa/1", "--json")
    assert json.loads(out)["kind"] == "prompt" and json.loads(out)["runs"][0]["id"] == run.id
    code, out = ondo_cli("prompts", "lineage", "qa@production", "--json")
    assert code == 0 and json.loads(out)["prompt"]["ref"] == "qa/1" and json.loads(out)["runs"][0]["id"] == run.id
    assert json.loads(out)["aliases"][0]["alias"] == "production"
    assert ondo.prompts.lineage("qa/1").to_dict()["runs"][0]["id"] == run.id
    code, out = ondo_cli("prompts", "lineage", "qa/1")
    assert code == 0 and run.id[:12] in out and "qa@production" in out


def test_register_inline_template_or_file_option(workspace: Workspace, tmp_path: Path) -> None:
    code, out = ondo_cli("prompts", "register", "greet", "--template", "Hi {{ name }}", "--json")
    assert code == 0 and json.loads(out)["template"] == "Hi {{ name }}"
    (tmp_path / "g.txt").write_text("Hello {{ name }}")
    code, out = ondo_cli("prompts", "register", "greet", "--file", tmp_path / "g.txt", "--json")
    assert code == 0 and json.loads(out)["version"] == 2
    code, out = ondo_cli("prompts", "register", "greet")
    assert code == 1 and "give the prompt once" in out
    code, out = ondo_cli("prompts", "register", "greet", "--template", "Hey {{ name }}", "--alias", "v3")
    assert code == 1 and "invalid alias 'v3'" in out
    assert [v.version for v in ondo.prompts.list("greet")] == [1, 2]  # nothing registered
