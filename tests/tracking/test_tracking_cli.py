"""``ondo experiments`` / ``ondo runs``: listings with --json, show, compare, delete, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ondo
from ondo.cli.main import app
from ondo.client import Client

runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture
def two_runs() -> tuple[str, str]:
    with ondo.start_run(experiment="cmp", name="base", params={"lr": 1e-3, "epochs": 3, "opt": "adam"}) as a:
        a.record_input("prompt", "summarizer/2", "sha256:" + "1" * 64)
        a.record_input("dataset", "qa-train/1")
        a.log_metrics({"rouge_l": 0.38, "loss": 1.5}, step=1)
        a.log_metrics({"rouge_l": 0.40, "loss": 1.2}, step=2)
    with ondo.start_run(experiment="cmp", name="tuned", params={"lr": 3e-4, "epochs": 3, "opt": "adam"}) as b:
        b.record_input("prompt", "summarizer/3", "sha256:" + "2" * 64)
        b.record_input("dataset", "qa-train/1")
        b.log_metrics({"rouge_l": 0.45, "loss": 1.1}, step=2)
        b.log_metric("bleu", 21.7, step=2)
    return a.id, b.id


def test_experiments_and_runs_listings_json(two_runs: tuple[str, str]) -> None:
    code, out, _ = cli("experiments", "list", "--json")
    assert code == 0
    exps = json.loads(out)
    assert [(e["name"], e["run_count"]) for e in exps] == [("cmp", 2)]
    code, out, _ = cli("runs", "list", "--json", "-e", "cmp", "-f", "metrics.rouge_l > 0.41")
    assert code == 0
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [two_runs[1]]
    assert rows[0]["metrics"]["rouge_l"] == 0.45 and rows[0]["params"]["lr"] == "0.0003"
    assert rows[0]["status"] == "finished"
    code, out, err = cli("runs", "list", "--json", "--order-by", "metrics.rouge_l DESC", "--limit", "1")
    assert [r["name"] for r in json.loads(out)] == ["tuned"]
    token = err.split("--page-token ", 1)[1].split()[0]  # the way to the next page, beside the JSON
    code, out, err = cli("runs", "list", "--json", "--order-by", "metrics.rouge_l DESC", "--limit", "1",
                         "--page-token", token)
    assert [r["name"] for r in json.loads(out)] == ["base"] and "--page-token" not in err


def test_human_listings(two_runs: tuple[str, str]) -> None:
    code, out, _ = cli("experiments", "list")
    assert code == 0 and "cmp" in out
    code, out, _ = cli("runs", "list")
    assert code == 0 and "tuned" in out and "base" in out


def test_show_json_and_table(two_runs: tuple[str, str]) -> None:
    a, _ = two_runs
    code, out, _ = cli("runs", "show", a, "--json")
    assert code == 0
    run = json.loads(out)
    assert (
        run["id"] == a and run["params"]["epochs"] == "3" and run["metrics"] == {"rouge_l": 0.4, "loss": 1.2}
    )
    assert {"kind": "prompt", "ref": "summarizer/2", "digest": "sha256:" + "1" * 64, "role": "input"} in run[
        "inputs"
    ]
    code, out, _ = cli("runs", "show", a[:10])
    assert code == 0 and a in out and "summarizer/2" in out


def test_compare_highlights_differences(two_runs: tuple[str, str]) -> None:
    a, b = two_runs
    code, out, _ = cli("runs", "compare", a, b, "--json")
    assert code == 0
    res = json.loads(out)
    assert [r["id"] for r in res["runs"]] == [a, b]
    assert res["params"]["lr"] == ["0.001", "0.0003"] and res["params"]["epochs"] == ["3", "3"]
    assert res["prompts"] == {"summarizer": ["summarizer/2", "summarizer/3"]}
    assert res["metrics"] == {"bleu": [None, 21.7], "loss": [1.2, 1.1], "rouge_l": [0.4, 0.45]}
    assert res["differences"] == {
        "params": ["lr"],
        "prompts": ["summarizer"],
        "metrics": ["bleu", "loss", "rouge_l"],
    }
    code, out, _ = cli("runs", "compare", "base", "tuned")
    assert code == 0
    lines = out.splitlines()
    lr_line = next(line for line in lines if " lr " in line)
    epochs_line = next(line for line in lines if " epochs " in line)
    assert "≠" in lr_line and "0.0003" in lr_line and "0.001" in lr_line
    assert "≠" not in epochs_line
    assert any("prompt:summarizer" in line and "summarizer/3" in line for line in lines)
    assert any("rouge_l" in line and "0.45" in line for line in lines)


def test_delete(two_runs: tuple[str, str]) -> None:
    a, b = two_runs
    code, out, _ = cli("runs", "delete", a, "--json")
    assert code == 0 and json.loads(out)["deleted"] == a
    code, out, _ = cli("runs", "list", "--json")
    assert [r["id"] for r in json.loads(out)] == [b]
    code, _, err = cli("runs", "show", a)
    assert code != 0 and "not found" in err


def test_unknown_run_is_one_line_with_suggestion(two_runs: tuple[str, str]) -> None:
    a, _ = two_runs
    typo = a[:-2] + ("00" if a[-2:] != "00" else "11")
    for args in (["runs", "show", typo], ["runs", "compare", typo, a], ["runs", "delete", typo]):
        code, _out, err = cli(*args)
        assert code != 0
        assert err.strip().count("\n") == 0, err
        assert f"run '{typo}' not found" in err and a in err  # "did you mean '<id>'?"
    code, _, err = cli("runs", "list", "-e", "cpm")
    assert code != 0 and "'cmp'" in err
    code, _, err = cli("runs", "list", "-f", "metrics.rouge_l >> 1")
    assert code != 0 and "filter" in err and "Traceback" not in err


def _ondo(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ONDO_HOME": str(home)}
    env.pop("ONDO_STORE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "ondo.cli.main", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_corrupt_database_gives_one_line_and_nonzero_exit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "ondo.db").write_bytes(b"SQLite format 2\x00" + b"\x07" * 4096)
    proc = _ondo(home, "runs", "list")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "corrupt" in proc.stderr and str(home / "ondo.db") in proc.stderr


def test_unwritable_home_gives_one_line_and_nonzero_exit(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        home = Path("/proc/ondo-cannot-exist")  # root can write anywhere else
    else:
        home = tmp_path / "ro"
        home.mkdir()
        home.chmod(0o500)
    proc = _ondo(home, "experiments", "list")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert str(home) in proc.stderr


def test_unknown_run_via_the_real_command(two_runs: tuple[str, str], ondo_home: Path) -> None:
    if os.environ.get("ONDO_STORE_URL", "").startswith("postgresql"):
        pytest.skip("runs the CLI on the SQLite home")
    proc = _ondo(ondo_home, "runs", "show", "deadbeef")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "error: run 'deadbeef' not found"
    assert Client().get_run(two_runs[0]).status == "finished"


def test_store_corrupted_after_use_gives_one_line(tmp_path: Path) -> None:
    import sqlite3

    from ondo.config import Settings
    from ondo.workspace import Workspace

    home = tmp_path / "home"
    ws = Workspace(
        Settings(home=home, store_url=f"sqlite:///{home / 'ondo.db'}", artifacts_url=str(home / "b"))
    )
    for _ in range(10):
        with ondo.start_run(experiment="c", workspace=ws) as r:
            r.log_metrics({f"k{j}": j for j in range(40)})
    ws.close()
    db = home / "ondo.db"
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = bytearray(db.read_bytes())
    page = 4096
    data[2 * page :] = b"\xff" * (len(data) - 2 * page)  # keep the header, wreck the tables
    db.write_bytes(bytes(data))
    for command in (["runs", "list"], ["experiments", "list"], ["runs", "show", r.id]):
        proc = _ondo(home, *command)
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
