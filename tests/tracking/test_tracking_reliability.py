"""Reliability: concurrent writers on one store, and runs whose process is killed."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from subprocess import Popen

import pytest
import sqlalchemy as sa

import ondo
from ondo.client import Client
from ondo.store.tables.core import metrics, runs
from ondo.tracking import heartbeat
from ondo.workspace import Workspace

WRITER = """
import os, ondo
with ondo.start_run(experiment="concurrent", name="w" + os.environ["WORKER"]) as run:
    for step in range(5000):
        run.log_metrics({f"k{k}": step * 0.001 + k for k in range(5)}, step=step)
print(run.id)
"""


def test_four_processes_log_100k_points_into_one_store(
    spawn: Callable[..., Popen[str]], client: Client, workspace: Workspace
) -> None:
    # small batches so the four writers interleave hundreds of transactions
    procs = [spawn(WRITER, WORKER=str(i), ONDO_METRIC_BATCH_SIZE="500") for i in range(4)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err.lower() and "Traceback" not in err
    ids = [out.strip() for out, _ in results]
    with workspace.read() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(metrics)).scalar_one()
        per_run: dict[str, int] = dict(
            conn.execute(sa.select(metrics.c.run_id, sa.func.count()).group_by(metrics.c.run_id))
            .tuples()
            .all()
        )
    assert total == 100_000
    assert per_run == {rid: 25_000 for rid in ids}
    for rid in ids:
        info = client.get_run(rid)
        assert info.status == "finished"
        assert info.metrics == {f"k{k}": 4999 * 0.001 + k for k in range(5)}
    if workspace.settings.is_sqlite:
        with workspace.read() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


KILLED = """
import sys, time, ondo
run = ondo.start_run(experiment="doomed")
for step in range(3000):
    run.log_metric("loss", 1.0 / (step + 1), step=step)
run.flush()
print(run.id, flush=True)
step = 3000
while True:  # keeps logging (unflushed) until killed
    run.log_metric("loss", 0.0, step=step)
    step += 1
    time.sleep(0.001)
"""


def test_kill_9_marks_the_run_killed_and_keeps_flushed_points(
    spawn: Callable[..., Popen[str]], client: Client, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # only the timeout is shortened: the beat interval follows it (a third of it)
    beats = {"ONDO_HEARTBEAT_TIMEOUT": "3", "ONDO_METRIC_FLUSH_INTERVAL": "3600"}
    monkeypatch.delenv("ONDO_HEARTBEAT_INTERVAL", raising=False)
    for k, v in beats.items():
        monkeypatch.setenv(k, v)
    proc = spawn(KILLED)
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        assert run_id, proc.stderr.read() if proc.stderr else ""
        assert client.get_run(run_id).status == "running"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    deadline = time.monotonic() + 60
    while client.get_run(run_id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    info = client.get_run(run_id)
    assert info.status == "killed"
    assert info.end_time is not None and info.end_time >= info.start_time
    points = client.get_metric_history(run_id, "loss", max_points=None)
    assert [p.step for p in points[:3000]] == list(range(3000))
    assert points[2999].value == 1.0 / 3000
    if workspace.settings.is_sqlite:
        with workspace.read() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def test_readers_reap_only_silent_runs(
    workspace: Workspace, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONDO_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("ONDO_HEARTBEAT_TIMEOUT", "2")
    with ondo.start_run(experiment="r") as alive:
        pass
    # a run some other process left 'running' with a heartbeat long ago, and one beating just now
    stale, fresh = ondo.start_run(experiment="r"), ondo.start_run(experiment="r")
    for r in (stale, fresh):
        heartbeat.HEARTBEAT.remove(r.id)  # pretend another process owns them
    old = time.time() - 3600
    workspace.write(lambda c: c.execute(runs.update().where(runs.c.id == stale.id).values(heartbeat_at=old)))
    by_id = {r.id: r.status for r in client.search_runs(experiment="r")}
    assert by_id == {alive.id: "finished", stale.id: "killed", fresh.id: "running"}
    assert client.get_run(stale.id).end_time == pytest.approx(old)
    # our own live run is never reaped, even when its beat is late
    mine = ondo.start_run(experiment="r")
    workspace.write(lambda c: c.execute(runs.update().where(runs.c.id == mine.id).values(heartbeat_at=old)))
    assert client.get_run(mine.id).status == "running"
    for r in (mine, fresh, stale):
        r.end()


def test_a_beat_revives_a_run_wrongly_called_killed(workspace: Workspace, client: Client) -> None:
    run = ondo.start_run(experiment="r")
    workspace.write(
        lambda c: c.execute(
            runs.update().where(runs.c.id == run.id).values(status="killed", end_time=time.time())
        )
    )
    heartbeat.HEARTBEAT.beat()
    info = client.get_run(run.id)
    assert info.status == "running" and info.end_time is None
    run.end()
    assert client.get_run(run.id).status == "finished"


def test_beats_follow_a_shortened_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONDO_HEARTBEAT_INTERVAL", raising=False)
    monkeypatch.delenv("ONDO_HEARTBEAT_TIMEOUT", raising=False)
    assert (heartbeat.interval(), heartbeat.timeout()) == (5.0, 30.0)
    monkeypatch.setenv("ONDO_HEARTBEAT_TIMEOUT", "1.5")
    assert heartbeat.interval() == 0.5
    monkeypatch.setenv("ONDO_HEARTBEAT_INTERVAL", "0.1")
    assert heartbeat.interval() == 0.1
    monkeypatch.setenv("ONDO_HEARTBEAT_TIMEOUT", "nonsense")
    assert heartbeat.timeout() == 30.0
