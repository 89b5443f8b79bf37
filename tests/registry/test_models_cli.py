"""``ondo models`` and ``ondo lineage``: the CLI mirrors the library, --json everywhere, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import ondo
from ondo.cli.main import app
from ondo.registry.times import iso
from ondo.workspace import Workspace

runner = CliRunner()


def ondo_cli(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_register_alias_promote_rollback_history_lineage(workspace: Workspace, tmp_path: Path) -> None:
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00weights")
    code, out = ondo_cli("models", "register", "summarizer", weights, "--dataset", "qa/1", "--tag", "q=4", "--json")
    assert code == 0
    v1 = json.loads(out)
    assert (v1["version"], v1["kind"], v1["datasets"], v1["tags"]) == (1, "gguf", [{"ref": "qa/1", "digest": None}],
                                                                        {"q": "4"})
    code, out = ondo_cli("models", "register", "summarizer", "--provider", "openai", "--model", "gpt-4o-mini",
                         "-p", "temperature=0", "--json")
    v2 = json.loads(out)
    assert (v2["version"], v2["source"], v2["spec"]["params"]) == (2, "api:openai/gpt-4o-mini", {"temperature": 0})
    code, out = ondo_cli("models", "alias", "summarizer", "production", "1", "-m", "first release", "--json")
    assert (code, json.loads(out)["to_version"]) == (0, 1)

    code, out = ondo_cli("models", "promote", "summarizer/2", "--alias", "production",
                         "--require", "mmlu.acc>=0.45", "--require", "mt_bench.score>=6")
    assert code == 1 and "Traceback" not in out
    assert "mmlu.acc>=0.45: missing" in out and "mt_bench.score>=6: missing" in out
    code, out = ondo_cli("models", "promote", "summarizer/2", "--alias", "production",
                         "--require", "mmlu.acc>=0.45", "--json")
    assert code == 1 and json.loads(out[: out.rindex("}") + 1])["promoted"] is False
    code, out = ondo_cli("models", "promote", "summarizer/2", "--alias", "production", "--require", "mmlu.acc>=0.45",
                         "--force")
    assert code == 1 and "--force needs --reason" in out

    with ondo.start_run(experiment="eval") as run:
        run.record_input("model", "summarizer/2", digest=v2["digest"])
        run.log_metrics({"mmlu.acc": 0.5, "mt_bench.score": 5.0})
    code, out = ondo_cli("models", "check", "summarizer/2", "-r", "mmlu.acc>=0.45", "-r", "mt_bench.score>=6", "--json")
    assert code == 1 and [c["passed"] for c in json.loads(out)] == [True, False]
    code, out = ondo_cli("models", "promote", "summarizer/2", "--alias", "production",
                         "--require", "mmlu.acc>=0.45", "--json")
    assert code == 0 and json.loads(out)["promoted"] is True and json.loads(out)["to_version"] == 2
    code, out = ondo_cli("models", "promote", "summarizer/1", "--alias", "production", "--require",
                         "mmlu.acc>=0.45", "--force", "--reason", "hotfix")
    assert code == 0 and "FAILED (forced)" in out

    code, out = ondo_cli("models", "rollback", "summarizer", "--alias", "production", "--json")
    assert (json.loads(out)["action"], json.loads(out)["to_version"]) == ("rollback", 2)
    code, out = ondo_cli("models", "history", "summarizer", "--alias", "production", "--json")
    events = json.loads(out)
    assert [(e["action"], e["from_version"], e["to_version"]) for e in events] == [
        ("set", None, 1), ("promote", 1, 2), ("promote", 2, 1), ("rollback", 1, 2)
    ]
    assert events[2]["reason"] == "hotfix" and events[2]["details"]["forced"] is True
    code, out = ondo_cli("models", "history", "summarizer", "--alias", "production", "--at", str(events[1]["created_at"]),
                         "--json")
    assert json.loads(out) == {"name": "summarizer", "alias": "production", "at": events[1]["time"], "version": 2}
    code, out = ondo_cli("models", "history", "summarizer", "--alias", "production")
    assert code == 0 and "(forced)" in out and "hotfix" in out

    code, out = ondo_cli("models", "list", "--json")
    assert [(m["name"], m["latest"], m["aliases"]) for m in json.loads(out)] == [("summarizer", 2, {"production": 2})]
    code, out = ondo_cli("models", "list", "summarizer", "--json")
    assert [v["version"] for v in json.loads(out)] == [1, 2]
    code, out = ondo_cli("models", "show", "summarizer@production", "--json")
    assert json.loads(out)["version"] == 2 and json.loads(out)["aliases"] == ["production"]
    code, out = ondo_cli("models", "show", "summarizer/1")
    assert code == 0 and "m.gguf" in out and "gguf_version" in out

    code, out = ondo_cli("lineage", "summarizer/2", "--json")
    doc = json.loads(out)
    assert doc["model"]["ref"] == "summarizer/2" and [r["id"] for r in doc["runs"]] == [run.id]
    code, out = ondo_cli("lineage", "summarizer/1")
    assert code == 0 and "summarizer/1" in out and "qa/1" in out
    code, out = ondo_cli("models", "lineage", "summarizer/2", "--json")
    assert code == 0 and json.loads(out) == doc
    code, out = ondo_cli("models", "lineage", "summarizer@production")  # production holds 2 after the rollback
    assert code == 0 and "summarizer/2" in out and run.id[:12] in out and "summarizer@production" in out
    code, out = ondo_cli("models", "lineage", "summarizer/9")
    assert code == 2 and "summarizer/9" in out and "Traceback" not in out


def test_tags_on_model_versions_from_the_cli(workspace: Workspace, tmp_path: Path) -> None:
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00weights")
    ondo.models.register("summarizer", source=weights, tags={"quant": "q8"})
    ondo.models.set_alias("summarizer", "production", version=1)
    code, out = ondo_cli("models", "tag", "summarizer@production", "team=nlp", "quant=q4_1", "--json")
    assert (code, json.loads(out)) == (0, {"ref": "summarizer/1", "tags": {"quant": "q4_1", "team": "nlp"}})
    code, out = ondo_cli("models", "tag", "summarizer/1", "--delete", "team")
    assert code == 0 and "quant=q4_1" in out and "team" not in out
    code, out = ondo_cli("models", "tag", "summarizer/1", "a=1", "broken")
    assert code == 1 and "expected KEY=VALUE" in out
    assert ondo.models.get("summarizer/1").tags == {"quant": "q4_1"}  # nothing half-written
    code, out = ondo_cli("models", "tag", "summarizer/2", "a=1")
    assert code == 2 and "summarizer/2" in out
    ondo.models.delete_tag("summarizer/1", "quant")
    assert ondo.models.get("summarizer/1").tags == {}


def test_user_text_is_printed_literally_never_as_markup(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "w[bold]x"
    folder.mkdir()
    weights = folder / "m.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00weights")
    code, out = ondo_cli("models", "register", "m", weights, "--description", "[/d] desc", "--tag", "k=[red]v")
    assert code == 0 and "w[bold]x" in out.replace("\n", "")  # a long path may fold
    with ondo.start_run(experiment="exp [/e]", name="run [bold]") as run:
        run.record_input("model", "m/1", ondo.models.get("m/1").digest)
        run.log_metric("acc", 0.9)
    code, out = ondo_cli("models", "alias", "m", "prod", "1", "-m", "fix [/bad] and [red]x")
    assert code == 0 and "fix [/bad] and [red]x" in out
    code, out = ondo_cli("models", "promote", "m/1", "--alias", "prod2", "--require", "acc>=0.95", "--force", "-m", "[/y]")
    assert code == 0 and "[/y]" in out
    for args in (["models", "history", "m"], ["models", "show", "m/1"], ["models", "list", "m"], ["models", "list"],
                 ["lineage", "m/1"], ["models", "tag", "m/1", "k2=[/z]"]):
        code, out = ondo_cli(*args)
        assert code == 0, (args, out)
    code, out = ondo_cli("lineage", "m/1")
    assert "exp [/e]" in out and "run [bold]" in out


def test_output_into_a_pipe_is_whole_lines(workspace: Workspace, tmp_path: Path) -> None:
    """Without a terminal nothing is folded at 80 columns or cut to '…': reasons, digests, times stay greppable."""
    deep = tmp_path / ("folder-with-a-rather-long-name-" * 3)
    deep.mkdir()
    weights = deep / "model-weights.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00weights")
    code, out = ondo_cli("models", "register", "summarizer", weights)
    v = ondo.models.get("summarizer/1")
    assert code == 0 and f"registered summarizer/1  {v.digest}  (gguf: {weights})" in out.splitlines()
    reason = "the second candidate answered every question of the held-out set more briefly than the first one"
    code, out = ondo_cli("models", "alias", "summarizer", "production", "1", "-m", reason)
    assert out.splitlines() == [f"summarizer@production: nothing -> 1 (set, {reason})"]
    code, out = ondo_cli("models", "history", "summarizer", "--alias", "production")
    event = ondo.models.history("summarizer", alias="production")[0]
    row = next(line for line in out.splitlines() if reason in line)
    assert "production" in row and iso(event.created_at) in row and event.actor in row
    code, out = ondo_cli("lineage", "summarizer/1")
    assert str(weights) in out and "…" not in out


def test_register_errors_exit_1_and_register_nothing(workspace: Workspace, tmp_path: Path) -> None:
    code, out = ondo_cli("models", "register", "summarizer", tmp_path / "missing.gguf")
    assert code == 1 and "does not exist" in out and "missing.gguf" in out and "Traceback" not in out
    code, out = ondo_cli("models", "register", "summarizer")
    assert code == 1 and "exactly one of source" in out
    code, out = ondo_cli("models", "register", "summarizer", "--source", tmp_path / "missing.gguf")
    assert code == 1 and "does not exist" in out
    code, out = ondo_cli("models", "list", "--json")
    assert json.loads(out) == []
    code, out = ondo_cli("models", "show", "summarizer")
    assert code == 2 and "not found" in out
    code, out = ondo_cli("models", "promote", "x/1", "--alias", "production", "--require", "acc>>1")
    assert code == 1 and "cannot read requirement" in out
