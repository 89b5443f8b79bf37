"""Refused tracking calls name the mistake and write nothing; listings survive a pipe whole."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import ondo
from ondo.cli.main import app
from ondo.client import Client
from ondo.config import Settings
from ondo.workspace import Workspace


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"params": {"": 1}}, "param key"),
        ({"params": ["lr", 0.1]}, "params must be a mapping"),
        ({"tags": {"": "x"}}, "tag key"),
        ({"tags": "team=nlp"}, "tags must be a mapping"),
        ({"seed": "7"}, "seed must be an integer"),
        ({"params": {"lr": "a\x00b"}}, "NUL"),
        ({"tags": {"team": "a\x00b"}}, "NUL"),
        ({"note": "a\x00b"}, "run note"),
        ({"note": 5}, "run note"),
    ],
)
def test_a_refused_start_run_leaves_no_experiment(client: Client, kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(ondo.InvalidInput, match=says):
        ondo.start_run(experiment="never-created", **kwargs)
    assert [e.name for e in client.list_experiments()] == []
    assert ondo.active_run() is None


def test_non_mapping_values_are_input_errors(client: Client) -> None:
    with ondo.start_run(experiment="e", params={"lr": 0.1}) as run:
        with pytest.raises(ondo.InvalidInput, match="metrics must be a mapping"):
            run.log_metrics([("acc", 0.5)])  # type: ignore[arg-type]
        with pytest.raises(ondo.InvalidInput, match="params must be a mapping"):
            run.log_params(["lr"])  # type: ignore[arg-type]
        with pytest.raises(ondo.InvalidInput, match="tags must be a mapping"):
            run.set_tags("team")  # type: ignore[arg-type]
        with pytest.raises(ondo.InvalidInput, match="note is text"):
            run.set_note(42)  # type: ignore[arg-type]
        run.set_note("kept")
    info = client.get_run(run.id)
    assert info.params == {"lr": "0.1"} and info.metrics == {} and info.tags == {} and info.note == "kept"


def test_order_by_mistakes_name_order_by(client: Client) -> None:
    for bad in ("rouge_l", "metrics.acc sideways", "metrics.acc >"):
        with pytest.raises(ondo.InvalidInput) as err:
            client.search_runs(order_by=[bad])
        assert err.value.field == "order_by" and "filter" not in str(err.value), str(err.value)


def test_human_listings_are_whole_in_a_pipe() -> None:
    """CliRunner output is not a terminal: ids, names, experiments and statuses print uncut."""
    with ondo.start_run(
        experiment="summarize-ko-long-experiment-name",
        name="baseline-with-a-long-run-name",
        params={"lr": 3e-4, "prompt": "v2", "model": "SmolLM2-135M-Instruct"},
    ) as run:
        run.log_metrics({"rouge_l": 0.41, "bleu": 21.7, "loss": 1.02, "bertscore_f1": 0.8812}, step=3)
    runner = CliRunner()
    out = runner.invoke(app, ["runs", "list"]).output
    for text in (
        run.id[:12],
        "baseline-with-a-long-run-name",
        "summarize-ko-long-experiment-name",
        "finished",
    ):
        assert text in out, out
    assert "…" not in out
    out = runner.invoke(app, ["experiments", "list"]).output
    assert "summarize-ko-long-experiment-name" in out and "…" not in out
    out = runner.invoke(app, ["runs", "show", run.id]).output
    assert "SmolLM2-135M-Instruct" in out and "…" not in out
    res = runner.invoke(app, ["runs", "list", "--page-size", "1", "--json"])
    assert res.exit_code == 0 and len(json.loads(res.output)) == 1


def test_values_and_steps_the_store_cannot_hold_are_refused_when_logged(client: Client) -> None:
    """A point that would fail its batch at write time would take the good points with it."""
    with ondo.start_run(experiment="e") as run:
        run.log_metric("good", 1.0, step=0)
        with pytest.raises(ondo.InvalidInput, match=r"'huge'.*too large for a float"):
            run.log_metric("huge", 10**400)
        with pytest.raises(ondo.InvalidInput, match=r"'far'.*does not fit in 64 bits"):
            run.log_metric("far", 1.0, step=2**63)
        with pytest.raises(ondo.InvalidInput, match="too large"):
            run.log_metrics({"also_good": 2.0, "huge": 10**400}, step=1)
        with pytest.raises(ondo.InvalidInput, match="64 bits"):
            run.log_metrics({"also_good": 2.0}, step=-(2**64))
        run.log_metric("edge", 3, step=2**63 - 1)
        with pytest.raises(ondo.InvalidInput, match=r"'edge'.*64 bits"):
            run.log_metric("edge", 4)  # the automatic next step is past 64 bits too
        with pytest.raises(ondo.InvalidInput, match="an integer of 16610 bits"):
            run.log_metric("huge", 10**5000)  # too long for Python to print: described by its size
    info = client.get_run(run.id)
    assert info.status == "finished"
    assert info.metrics == {"edge": 3.0, "good": 1.0}
    assert info.metric_steps["edge"] == 2**63 - 1


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"name": "x" * 300}, "run name"),
        ({"name": 5}, "run name"),
        ({"name": "nul\x00inside"}, "run name"),
        ({"seed": 2**70}, "64 bits"),
        ({"seed": 10**5000}, "64 bits"),
    ],
)
def test_run_names_and_seeds_the_store_cannot_hold_are_refused(
    client: Client, kwargs: dict[str, Any], says: str
) -> None:
    with pytest.raises(ondo.InvalidInput, match=says):
        ondo.start_run(experiment="never-created", **kwargs)
    assert client.list_experiments() == []


def test_an_input_digest_must_be_short_text(client: Client) -> None:
    with ondo.start_run(experiment="e") as run:
        with pytest.raises(ondo.InvalidInput, match="input digest"):
            run.record_input("dataset", "qa/1", digest="sha256:" + "0" * 200)
        with pytest.raises(ondo.InvalidInput, match="input digest"):
            run.record_input("dataset", "qa/1", digest=b"\x00" * 32)  # type: ignore[arg-type]
        with pytest.raises(ondo.InvalidInput, match="input ref"):
            run.record_input("dataset", "qa\x00/1")
        run.record_input("dataset", "qa/1", digest="sha256:" + "0" * 64)
    assert [(i.ref, i.digest) for i in client.get_run(run.id).inputs] == [("qa/1", "sha256:" + "0" * 64)]


def test_nul_characters_are_refused_on_every_store(client: Client) -> None:
    """PostgreSQL text cannot hold NUL; SQLite could, so both refuse it up front."""
    with ondo.start_run(experiment="e", params={"lr": 0.1}) as run:
        with pytest.raises(ondo.InvalidInput, match="'prompt' contains a NUL"):
            run.log_params({"ok": 1, "prompt": "a\x00b"})
        with pytest.raises(ondo.InvalidInput, match="NUL"):
            run.set_tags({"bad\x00key": "v"})
        with pytest.raises(ondo.InvalidInput, match="NUL"):
            run.set_note("x\x00y")
    info = client.get_run(run.id)
    assert info.params == {"lr": "0.1"} and info.tags == {} and info.note is None


def test_artifact_io_failures_say_which_side_failed(
    tmp_path: Path, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    (blobs / "sha256").write_text("a file where the store's folder must be")
    ws = Workspace(Settings(home=tmp_path, store_url=workspace.settings.store_url, artifacts_url=str(blobs)))
    src = tmp_path / "predictions.jsonl"
    src.write_text('{"a": 1}\n')
    with ondo.start_run(experiment="e", workspace=ws) as run:
        with pytest.raises(ondo.StoreError, match=re.escape(f"cannot write to the artifact store {blobs}")):
            run.log_artifact(src)
        with pytest.raises(ondo.StoreError, match="artifact store"):
            run.log_text("x", "notes.txt")

        def unreadable(path: Any, digest: Any = None) -> str:
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(ws.blobs, "put_file", unreadable)
        with pytest.raises(
            ondo.InvalidInput, match=re.escape(f"cannot read artifact {src}: Permission denied")
        ):
            run.log_artifact(src)
    assert Client(workspace=ws).get_run(run.id).artifacts == []
    ws.close()


def test_compare_needs_two_runs_and_says_so_in_one_line() -> None:
    with ondo.start_run(experiment="e", name="only") as run:
        pass
    res = CliRunner().invoke(app, ["runs", "compare", run.id])
    assert res.exit_code != 0
    assert res.stderr.strip() == "error: give at least two runs to compare, got 1: ondo runs compare A B"


def test_a_nul_metric_key_is_refused_when_logged_not_when_written(client: Client) -> None:
    with ondo.start_run(experiment="e") as run:
        run.log_metric("loss", 1.0)
        with pytest.raises(ondo.InvalidInput, match="metric key"):
            run.log_metric("bad\x00key", 1.0)
        with pytest.raises(ondo.InvalidInput, match="metric key"):
            run.log_metrics({"acc": 0.5, "bad\x00key": 1.0})
        with pytest.raises(ondo.InvalidInput, match="metric key"):
            run.log_metric("", 1.0)
        run.log_metric("loss", 0.5)  # a key seen before still logs
    assert client.get_run(run.id).metrics == {"loss": 0.5}


def test_values_that_look_like_rich_markup_print_as_data() -> None:
    """'[/data]' would be a closing style tag to rich (a crash); '[bold]' would vanish."""
    with ondo.start_run(experiment="m", name="[/x]", params={"path": "[/data]", "style": "[bold]v"}) as a:
        a.set_tag("t", "[red]hi")
        a.log_metric("[/m]", 1.0)
    with ondo.start_run(experiment="m", name="plain", params={"path": "[/data2]"}):
        pass
    runner = CliRunner()
    for args in (["runs", "show", a.id], ["runs", "list"], ["runs", "compare", a.id, "plain"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        assert "[/data]" in res.stdout and "[bold]v" in res.stdout and "[/m]" in res.stdout, res.stdout
    assert "[red]hi" in runner.invoke(app, ["runs", "show", a.id]).stdout
    assert "[/x]" in runner.invoke(app, ["runs", "compare", a.id, "plain"]).stdout
