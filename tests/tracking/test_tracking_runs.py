"""The Run API: lifecycle, params, metrics, tags, notes, inputs, artifacts, environment."""

from __future__ import annotations

import math
import os
import random
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

import ondo
from ondo.client import Client
from ondo.errors import Conflict, InvalidInput, NotFound
from ondo.store.tables.core import metrics, params
from ondo.tracking import environment
from ondo.workspace import Workspace


def test_issue_example_end_to_end(client: Client, tmp_path: Path) -> None:
    pred = tmp_path / "predictions.jsonl"
    pred.write_text('{"id": 1, "prediction": "요약"}\n')
    with ondo.start_run(experiment="summarize-ko", params={"lr": 3e-4, "prompt": "v2"}) as run:
        run.log_metric("rouge_l", 0.41, step=3)
        run.log_metrics({"bleu": 21.7, "loss": 1.02}, step=3)
        run.log_artifact(pred)
        assert client.get_run(run.id).status == "running"
    info = client.get_run(run.id)
    assert info.status == "finished"
    assert info.experiment == "summarize-ko" and run.experiment == "summarize-ko"
    assert info.params == {"lr": str(3e-4), "prompt": "v2"}
    assert info.metrics == {"rouge_l": 0.41, "bleu": 21.7, "loss": 1.02}
    assert info.end_time is not None and info.end_time >= info.start_time
    assert [a.path for a in info.artifacts] == ["predictions.jsonl"]
    assert client.read_artifact(run.id, "predictions.jsonl") == pred.read_bytes()
    found = client.search_runs(
        experiment="summarize-ko",
        filter="metrics.rouge_l > 0.4",
        order_by=["metrics.rouge_l DESC"],
        page_size=50,
    )
    assert [r.id for r in found] == [run.id]
    assert [p.value for p in client.get_metric_history(run.id, "loss", max_points=1000)] == [1.02]


def test_exception_marks_failed_and_keeps_flushed_points(client: Client) -> None:
    with pytest.raises(ZeroDivisionError), ondo.start_run(experiment="e") as run:
        run.log_metric("loss", 0.5, step=0)
        _ = 1 / 0
    info = client.get_run(run.id)
    assert info.status == "failed"
    assert "ZeroDivisionError" in info.tags["ondo.error"]
    assert info.metrics == {"loss": 0.5}


def test_keyboard_interrupt_marks_killed(client: Client) -> None:
    with pytest.raises(KeyboardInterrupt), ondo.start_run(experiment="e") as run:
        raise KeyboardInterrupt
    assert client.get_run(run.id).status == "killed"
    assert ondo.active_run() is None


def test_params_are_immutable(client: Client, workspace: Workspace) -> None:
    with ondo.start_run(experiment="e", params={"lr": 0.1, "layers": [1, 2]}) as run:
        run.log_param("lr", 0.1)  # same value again is fine
        run.log_params({"layers": [1, 2], "optimizer": "adam"})
        with pytest.raises(Conflict, match="lr") as info:
            run.log_params({"batch": 32, "lr": 0.2})
        assert "0.1" in str(info.value) and "0.2" in str(info.value)
    got = client.get_run(run.id).params
    # nothing of the refused call was written, not even the new key
    assert got == {"lr": "0.1", "layers": "[1, 2]", "optimizer": "adam"}
    with workspace.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(params)).scalar() == 3


@pytest.mark.parametrize("bad", ["high", None, b"1", [1.0], {"v": 1}, "0.5"])
def test_non_numeric_metric_names_key_and_value(bad: object, client: Client) -> None:
    with ondo.start_run(experiment="e") as run:
        with pytest.raises(InvalidInput) as info:
            run.log_metric("acc", bad)  # type: ignore[arg-type]
        msg = str(info.value)
        assert "acc" in msg and repr(bad) in msg
        with pytest.raises(InvalidInput):
            run.log_metrics({"ok": 1.0, "acc": bad})  # type: ignore[dict-item]
    assert client.get_run(run.id).metrics == {}  # the batch with a bad value was refused whole


def test_nan_and_inf_are_kept_and_flagged(client: Client, workspace: Workspace) -> None:
    with ondo.start_run(experiment="e") as run:
        run.log_metrics({"a": float("nan"), "b": float("inf"), "c": -math.inf, "d": 2.5}, step=1)
    m = client.get_run(run.id).metrics
    assert math.isnan(m["a"]) and m["b"] == math.inf and m["c"] == -math.inf and m["d"] == 2.5
    with workspace.read() as conn:
        flags = dict(
            conn.execute(sa.select(metrics.c.key, metrics.c.flag).where(metrics.c.run_id == run.id)).all()
        )
    assert flags == {"a": 1, "b": 2, "c": 3, "d": 0}
    hist = client.get_metric_history(run.id, "a")
    assert len(hist) == 1 and math.isnan(hist[0].value)


def test_numpy_and_int_values_and_steps(client: Client) -> None:
    np = pytest.importorskip("numpy")
    with ondo.start_run(experiment="e") as run:
        run.log_metric("x", np.float32(0.5), step=np.int64(7))
        run.log_metric("y", 3)
        run.log_metric("flag", True)
        with pytest.raises(InvalidInput, match="step"):
            run.log_metric("x", 1.0, step=1.5)  # type: ignore[arg-type]
    info = client.get_run(run.id)
    assert info.metrics == {"x": 0.5, "y": 3.0, "flag": 1.0}
    assert info.metric_steps["x"] == 7


def test_latest_metric_is_the_largest_step_not_the_last_logged(client: Client) -> None:
    with ondo.start_run(experiment="e") as run:
        run.log_metric("loss", 0.1, step=10)
        run.flush()
        run.log_metric("loss", 0.9, step=2)  # a late point for an earlier step
    info = client.get_run(run.id)
    assert info.metrics["loss"] == 0.1 and info.metric_steps["loss"] == 10


def test_steps_default_to_a_per_key_counter(client: Client) -> None:
    with ondo.start_run(experiment="e") as run:
        for v in (3.0, 2.0, 1.0):
            run.log_metric("loss", v)
        run.log_metric("acc", 0.5)
    assert [(p.step, p.value) for p in client.get_metric_history(run.id, "loss")] == [
        (0, 3.0),
        (1, 2.0),
        (2, 1.0),
    ]
    assert client.get_run(run.id).metric_steps["acc"] == 0


def test_flush_makes_points_readable_while_running(client: Client) -> None:
    with ondo.start_run(experiment="e") as run:
        run.log_metrics({f"k{i}": float(i) for i in range(5)}, step=0)
        run.flush()
        assert len(client.get_run(run.id).metrics) == 5
        assert client.get_run(run.id).status == "running"


def test_active_run_nests_and_records_the_parent() -> None:
    assert ondo.active_run() is None
    with ondo.start_run(experiment="e") as outer:
        assert ondo.active_run() is outer
        with ondo.start_run(experiment="e") as inner:
            assert ondo.active_run() is inner
        assert ondo.active_run() is outer
    assert ondo.active_run() is None
    assert Client().get_run(inner.id).tags["ondo.parent_run_id"] == outer.id


def test_tags_note_inputs(client: Client) -> None:
    with ondo.start_run(experiment="e", tags={"team": "nlp"}, name="baseline") as run:
        run.set_tag("team", "ko-nlp")  # tags are mutable
        run.set_tags({"stage": "dev"})
        run.set_note("first try with the long prompt")
        run.record_input("dataset", "qa-train/4", "sha256:" + "a" * 64)
        run.record_input("prompt", "summarizer/3", "sha256:" + "b" * 64)
        run.record_input("model", "summarizer/1", role="output")
        run.record_input("model", "summarizer/1", role="output")  # idempotent
        with pytest.raises(InvalidInput):
            run.record_input("model", "x/1", role="sideways")
    info = client.get_run(run.id)
    assert info.name == "baseline"
    assert info.tags == {"team": "ko-nlp", "stage": "dev"}
    assert info.note == "first try with the long prompt"
    assert {(i.kind, i.ref, i.role) for i in info.inputs} == {
        ("dataset", "qa-train/4", "input"),
        ("prompt", "summarizer/3", "input"),
        ("model", "summarizer/1", "output"),
    }
    assert client.get_run("baseline").id == run.id  # a unique run name resolves too


def test_artifacts_files_folders_dicts_text(client: Client, tmp_path: Path, workspace: Workspace) -> None:
    folder = tmp_path / "ckpt"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"\x00\x01")
    (folder / "sub" / "b.txt").write_text("bee")
    with ondo.start_run(experiment="e") as run:
        run.log_artifact(folder)
        run.log_dict({"b": 1, "a": [1, 2]}, "config.json")
        run.log_text("안녕", "notes/hello.txt")
        with pytest.raises(InvalidInput):
            run.log_artifact(tmp_path / "missing.txt")
        with pytest.raises(InvalidInput):
            run.log_text("x", "../escape.txt")
    paths = [a.path for a in client.list_artifacts(run.id)]
    assert paths == ["ckpt/a.bin", "ckpt/sub/b.txt", "config.json", "notes/hello.txt"]
    assert client.read_artifact(run.id, "notes/hello.txt").decode() == "안녕"
    assert client.read_artifact(run.id, "config.json").startswith(b"{")
    out = client.download_artifact(run.id, "ckpt", tmp_path / "restored")
    assert (out / "sub" / "b.txt").read_text() == "bee"
    for a in client.list_artifacts(run.id):
        assert workspace.blobs.verify(a.digest)
    with pytest.raises(NotFound, match=r"config\.jsn"):
        client.read_artifact(run.id, "config.jsn")


def test_environment_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: Client) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text("print(1)\n")
    subprocess.run([*git, "add", "train.py"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], cwd=repo, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    monkeypatch.chdir(repo)
    environment.git_state.cache_clear()
    with ondo.start_run(experiment="e", seed=1234) as run:
        first = random.random()
    (repo / "train.py").write_text("print(2)\n")
    environment.git_state.cache_clear()
    with ondo.start_run(experiment="e", seed=1234) as run2:
        assert random.random() == first  # the seed is applied, not only recorded
    a, b = client.get_run(run.id), client.get_run(run2.id)
    assert a.git_commit == head and a.git_dirty is False
    assert b.git_commit == head and b.git_dirty is True
    assert a.seed == 1234 and a.pid == os.getpid()
    assert a.python_version and a.command
    assert a.packages.get("sqlalchemy") == sa.__version__


def test_unknown_run_suggests_close_ids(client: Client) -> None:
    with ondo.start_run(experiment="e") as run:
        pass
    typo = run.id[:-1] + ("0" if run.id[-1] != "0" else "1")
    with pytest.raises(NotFound) as info:
        client.get_run(typo)
    assert run.id in info.value.suggestions
    assert client.get_run(run.id[:8]).id == run.id  # unique prefix
    with pytest.raises(NotFound):
        client.get_metric_history("nope", "loss")


def test_delete_hides_and_purge_removes(client: Client, workspace: Workspace) -> None:
    with ondo.start_run(experiment="e") as keep:
        keep.log_metric("m", 1.0)
    with ondo.start_run(experiment="e") as gone:
        gone.log_metric("m", 2.0)
    client.delete_run(gone.id)
    with pytest.raises(NotFound):
        client.get_run(gone.id)
    assert [r.id for r in client.search_runs(experiment="e")] == [keep.id]
    assert gone.id in [r.id for r in client.search_runs(experiment="e", include_deleted=True)]
    assert client.list_experiments()[0].run_count == 1
    client.delete_run(gone.id, purge=True)
    with workspace.read() as conn:
        left = conn.execute(
            sa.select(sa.func.count()).select_from(metrics).where(metrics.c.run_id == gone.id)
        )
        assert left.scalar() == 0


def test_experiments_listing(client: Client) -> None:
    for name in ("b-exp", "a-exp", "b-exp"):
        with ondo.start_run(experiment=name):
            pass
    exps = {e.name: e for e in client.list_experiments()}
    assert exps["b-exp"].run_count == 2 and exps["a-exp"].run_count == 1
    with pytest.raises(NotFound, match="b-exp"):
        client.get_experiment("b-epx")
    with pytest.raises(NotFound):
        client.search_runs(experiment="b-epx")
    with pytest.raises(InvalidInput):
        ondo.start_run(experiment="  ")


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=50),
            st.floats(allow_nan=True, allow_infinity=True, width=64),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_logged_points_read_back_exactly(points: list[tuple[int, float]]) -> None:
    client = Client()
    with ondo.start_run(experiment="prop") as run:
        for step, value in points:
            run.log_metric("v", value, step=step)
    got = client.get_metric_history(run.id, "v", max_points=None)
    want = sorted(points, key=lambda p: p[0])  # stable: equal steps keep logging order

    def same(a: float, b: float) -> bool:
        return (math.isnan(a) and math.isnan(b)) or a == b

    assert [p.step for p in got] == [s for s, _ in want]
    assert all(same(p.value, v) for p, (_, v) in zip(got, want, strict=True))
    last_step = max(s for s, _ in points)
    last_value = [v for s, v in points if s == last_step][-1]
    assert same(client.get_run(run.id).metrics["v"], last_value)
