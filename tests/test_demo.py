"""`make run`'s main job, end to end on the bundled model (slow: runs in `make bench`)."""

from __future__ import annotations

from pathlib import Path

import pytest

import ondo
from ondo.demo import run_demo
from ondo.workspace import Workspace


@pytest.mark.slow
def test_demo_runs_the_whole_loop(workspace: Workspace, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONDO_DATA_DIR", str(shared_data))
    out = run_demo(workspace, steps=lambda name: name != "judge")
    # the gateway answered with the promoted version, then the candidate after the move, then rolled back
    assert out["gateway"]["answered_by"] == ["assistant/1", "assistant/1", "assistant/2", "assistant/1"]
    assert out["gateway"]["spans"] >= 4
    assert ondo.models.get("assistant@production", workspace=workspace).version == 1
    events = ondo.models.history("assistant", alias="production", workspace=workspace)
    assert [e.action for e in events] == ["promote", "set", "rollback"]
    lineage = ondo.models.lineage("assistant/1", workspace=workspace).to_dict()
    assert any(d["ref"].startswith("demo-korquad/") for d in lineage["datasets"])
    assert out["prompts"]["best"].startswith("demo-answer/")
