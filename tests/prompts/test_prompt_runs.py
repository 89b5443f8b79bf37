"""Prompts as hyperparameters: runs record the prompt versions they use; sweeps run one tracked run per combination."""

from __future__ import annotations

from typing import Any

import pytest

import ondo
from ondo.errors import InvalidInput
from ondo.tracking import get_run
from ondo.workspace import Workspace


def _inputs(ws: Workspace, run_id: str, kind: str) -> list[tuple[str, str | None, str]]:
    return sorted((i.ref, i.digest, i.role) for i in get_run(ws, run_id).inputs if i.kind == kind)


def test_rendering_inside_a_run_records_the_prompt_version(workspace: Workspace) -> None:
    p = ondo.prompts.register("summarize", template="Summarize: {{ text }}")
    ondo.prompts.register("other", template="x")
    p.render(text="outside any run")
    with ondo.start_run(experiment="e") as run:
        for _ in range(3):
            ondo.prompts.get("summarize").render(text="a")
    assert _inputs(workspace, run.id, "prompt") == [("summarize/1", p.digest, "input")]
    with ondo.start_run(experiment="e") as other:
        pass
    assert _inputs(workspace, other.id, "prompt") == []


def test_use_records_a_prompt_by_identifier_or_version(workspace: Workspace) -> None:
    p1 = ondo.prompts.register("s", template="one {{ x }}")
    p2 = ondo.prompts.register("s", template="two {{ x }}")
    ondo.prompts.set_alias("s", "production", version=2)
    with ondo.start_run(experiment="e") as run:
        assert ondo.prompts.use(run, "s@production") == p2
        ondo.prompts.use(run, p1)
    assert _inputs(workspace, run.id, "prompt") == [("s/1", p1.digest, "input"), ("s/2", p2.digest, "input")]


def test_run_use_prompt_records_the_version_it_resolves(workspace: Workspace) -> None:
    p1 = ondo.prompts.register("s", template="one {{ x }}")
    p2 = ondo.prompts.register("s", template="two {{ x }}")
    ondo.prompts.set_alias("s", "production", version=1)
    with ondo.start_run(experiment="e") as run:
        assert run.use_prompt("s@production") == p1
        assert run.use_prompt(p2) == p2
        run.use_prompt(p2)  # twice: still one edge
    assert _inputs(workspace, run.id, "prompt") == [("s/1", p1.digest, "input"), ("s/2", p2.digest, "input")]
    with ondo.start_run(experiment="e") as other, pytest.raises(ondo.NotFound, match="s/9"):
        other.use_prompt("s/9")


def _score(prompt: ondo.prompts.PromptVersion, model: Any, temperature: float) -> dict[str, Any]:
    text = prompt.render(text="the cat sat on the mat")
    return {"length": len(text), "temperature_seen": temperature, "output": text}


def test_sweep_runs_one_tracked_run_per_combination(workspace: Workspace) -> None:
    ondo.prompts.register("s", template="Summarize: {{ text }}")
    ondo.prompts.register("s", template="TL;DR {{ text }}")
    table = ondo.sweep(
        prompts=["s/1", "s/2"], models=["gpt-4o-mini", "local"], params={"temperature": [0.0, 0.7]}, fn=_score,
        experiment="sweep-test",
    )
    assert len(table) == 8
    combos = {(r.prompt, r.model, r.params["temperature"]) for r in table}
    assert len(combos) == 8
    for row in table:
        info = get_run(workspace, row.run_id)
        assert info.status == "finished" and info.experiment == "sweep-test"
        assert info.params["prompt"] == row.prompt and info.params["model"] == row.model
        assert float(info.params["temperature"]) == row.params["temperature"]
        assert info.metrics["length"] == len(ondo.prompts.get(row.prompt).render(text="the cat sat on the mat"))
        assert info.metrics["temperature_seen"] == row.params["temperature"]
        assert [i.ref for i in info.inputs if i.kind == "prompt"] == [row.prompt]
        assert "output" in row.outputs and "output" not in info.metrics
    assert table.best("length", mode="min").prompt == "s/2"
    md = table.to_markdown()
    assert md.splitlines()[0] == "| run | prompt | model | temperature | length | temperature_seen | status |"
    assert len(md.splitlines()) == 10 and "TL;DR" not in md
    assert str(table) == md


def test_sweep_records_registered_models_and_failures(workspace: Workspace, tmp_path: Any) -> None:
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 32)
    mv = ondo.models.register("summarizer", source=weights)
    ondo.models.set_alias("summarizer", "staging", version=mv.version)
    ondo.prompts.register("s", template="{{ text }}")

    def fn(prompt: Any, model: Any, params: dict) -> float:
        if params["k"] == 2:
            raise ValueError("k=2 is broken")
        assert model == mv
        return 0.5 * params["k"]

    table = ondo.sweep(prompts=["s"], models=["summarizer@staging"], params={"k": [1, 2, 3], "fixed": "x"}, fn=fn)
    assert [(r.params, r.status) for r in table] == [
        ({"k": 1, "fixed": "x"}, "finished"), ({"k": 2, "fixed": "x"}, "failed"), ({"k": 3, "fixed": "x"}, "finished")
    ]
    failed = table.rows[1]
    assert "k=2 is broken" in (failed.error or "") and get_run(workspace, failed.run_id).status == "failed"
    ok = get_run(workspace, table.rows[0].run_id)
    assert ok.metrics == {"score": 0.5}
    assert _inputs(workspace, ok.id, "model") == [("summarizer/1", mv.digest, "input")]
    assert table.rows[0].model == "summarizer/1"
    with pytest.raises(ValueError, match="broken"):
        ondo.sweep(prompts=["s"], params={"k": [2]}, fn=fn, fail_fast=True)


def test_sweep_refuses_bad_arguments(workspace: Workspace) -> None:
    ondo.prompts.register("s", template="x")
    with pytest.raises(InvalidInput, match="fn="):
        ondo.sweep(prompts=["s"])
    with pytest.raises(InvalidInput, match="non-empty list"):
        ondo.sweep(prompts=[], fn=lambda prompt: 1)
    with pytest.raises(InvalidInput, match="empty list"):
        ondo.sweep(prompts=["s"], params={"t": []}, fn=lambda prompt: 1)
    with pytest.raises(InvalidInput, match="cannot be named prompt"):
        ondo.sweep(prompts=["s"], params={"prompt": [1]}, fn=lambda prompt: 1)
