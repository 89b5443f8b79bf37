"""The batching writer: flushed by size, by interval, on flush(), at run end and at interpreter exit."""

from __future__ import annotations

import time
from collections.abc import Callable
from subprocess import Popen

import pytest
import sqlalchemy as sa

import ondo
from ondo.client import Client
from ondo.store.tables.core import metrics
from ondo.tracking.writer import MetricWriter, writer_for
from ondo.workspace import Workspace


def _count(ws: Workspace, run_id: str) -> int:
    with ws.read() as conn:
        q = sa.select(sa.func.count()).select_from(metrics).where(metrics.c.run_id == run_id)
        return int(conn.execute(q).scalar_one())


def test_full_batches_are_written_without_flush(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONDO_METRIC_BATCH_SIZE", "100")
    monkeypatch.setenv("ONDO_METRIC_FLUSH_INTERVAL", "3600")
    run = ondo.start_run(experiment="w")
    for i in range(250):
        run.log_metric("m", float(i), step=i)
    deadline = time.monotonic() + 30
    while _count(workspace, run.id) < 200 and time.monotonic() < deadline:
        time.sleep(0.02)  # full batches go to the background writer; nobody calls flush()
    assert _count(workspace, run.id) >= 200
    run.end()
    assert _count(workspace, run.id) == 250


def test_a_caller_far_ahead_of_a_failing_store_gets_the_error(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONDO_METRIC_BATCH_SIZE", "10")
    monkeypatch.setenv("ONDO_METRIC_FLUSH_INTERVAL", "3600")
    run = ondo.start_run(experiment="w")
    real_write = workspace.write
    monkeypatch.setattr(workspace, "write", lambda fn: (_ for _ in ()).throw(RuntimeError("disk full")))
    logged = 0
    with pytest.raises(RuntimeError, match="disk full"):
        for i in range(1000):
            logged += 1  # the point is buffered before a flush can fail
            run.log_metric("m", float(i), step=i)
    # the caller stopped after a bounded backlog, and nothing it logged was dropped
    assert logged <= 10 * MetricWriter.BACKLOG
    writer = writer_for(workspace)
    with writer._flush_lock:  # not while the background thread holds a batch it is failing to write
        assert writer.pending() == logged
    monkeypatch.setattr(workspace, "write", real_write)
    run.end()
    assert _count(workspace, run.id) == logged


def test_interval_flush_from_the_background(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONDO_METRIC_BATCH_SIZE", "100000")
    monkeypatch.setenv("ONDO_METRIC_FLUSH_INTERVAL", "0.05")
    with ondo.start_run(experiment="w") as run:
        run.log_metrics({"a": 1.0, "b": 2.0}, step=0)
        deadline = time.monotonic() + 30
        while _count(workspace, run.id) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _count(workspace, run.id) == 2  # nobody called flush()


def test_interpreter_exit_flushes_and_ends_open_runs(
    spawn: Callable[..., Popen[str]], client: Client
) -> None:
    proc = spawn(
        """
        import ondo
        run = ondo.start_run(experiment="exit", name="left-open")
        for i in range(1000):
            run.log_metric("m", i * 0.5, step=i)
        print(run.id)
        """,
        ONDO_METRIC_BATCH_SIZE="1000000",
        ONDO_METRIC_FLUSH_INTERVAL="3600",
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    info = client.get_run(out.strip())
    assert info.status == "finished"
    assert info.metrics == {"m": 999 * 0.5}
    assert len(client.get_metric_history(info.id, "m", max_points=None)) == 1000


def test_uncaught_exception_with_an_open_run_ends_it_failed(
    spawn: Callable[..., Popen[str]], client: Client
) -> None:
    proc = spawn(
        """
        import ondo
        run = ondo.start_run(experiment="exit")
        run.log_metric("m", 1.0)
        print(run.id, flush=True)
        raise ValueError("training diverged")
        """
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "training diverged" in err
    info = client.get_run(out.strip())
    assert info.status == "failed" and info.metrics == {"m": 1.0}


def test_failed_write_keeps_points_for_the_next_flush(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONDO_METRIC_FLUSH_INTERVAL", "3600")
    with ondo.start_run(experiment="w") as run:
        run.log_metrics({"a": 1.0, "b": 2.0})
        writer = writer_for(workspace)
        real_write = workspace.write
        monkeypatch.setattr(workspace, "write", lambda fn: (_ for _ in ()).throw(RuntimeError("disk full")))
        with pytest.raises(RuntimeError, match="disk full"):
            run.flush()
        assert writer.pending() == 2
        monkeypatch.setattr(workspace, "write", real_write)
        run.flush()
        assert writer.pending() == 0
    assert _count(workspace, run.id) == 2


def test_a_forked_child_logs_into_the_run_but_does_not_end_it(client: Client) -> None:
    import os

    from ondo.tracking import active, writer

    with ondo.start_run(experiment="fork") as run:
        run.log_metric("parent", 1.0)
        pid = os.fork()
        if pid == 0:  # child: log, then exit normally (atexit hooks run)
            code = 0
            try:
                run.log_metric("child", 2.0)
                active._end_open_runs()  # what the child's interpreter-exit hooks do
                writer.flush_all()
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert client.get_run(run.id).status == "running"
    info = client.get_run(run.id)
    assert info.status == "finished"
    assert info.metrics == {"parent": 1.0, "child": 2.0}
