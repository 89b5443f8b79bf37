"""The prompt-as-hyperparameter loop end to end: two prompt versions evaluated (one tracked run each), compared,
the better one promoted through a gate, then rolled back, with the alias history printed (the README example)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ondo
from ondo.errors import GateFailed, InvalidInput
from ondo.workspace import Workspace


def _questions(shared_data: Path, n: int = 20) -> list[str]:
    lines = (shared_data / "mt_bench" / "question.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    return [json.loads(line)["turns"][0] for line in lines]


def test_two_prompts_evaluated_compared_promoted_rolled_back(
    workspace: Workspace, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = _questions(shared_data)
    v1 = ondo.prompts.register("answer", template="Answer the question.\n\nQuestion: {{ question }}\nAnswer:",
                               model="local:smollm2", params={"temperature": 0.0})
    v2 = ondo.prompts.register("answer", template="{{ question }}", model="local:smollm2", params={"temperature": 0.0})
    ondo.prompts.set_alias("answer", "production", version=v1.version, reason="baseline")

    def evaluate(prompt: ondo.prompts.PromptVersion) -> dict[str, float]:
        # share of the rendered prompt that is the user's question (higher = less template overhead)
        ratios = [len(q) / len(prompt.render(question=q)) for q in questions]
        return {"mt_bench.question_share": sum(ratios) / len(ratios)}

    table = ondo.sweep(prompts=["answer/1", "answer/2"], fn=evaluate, experiment="prompt-loop")
    print(table)
    best = table.best("mt_bench.question_share")
    assert best.prompt == "answer/2" and best.metrics["mt_bench.question_share"] == 1.0
    assert table.rows[0].metrics["mt_bench.question_share"] < 1.0

    with pytest.raises(GateFailed) as info:
        ondo.prompts.promote("answer/1", alias="production", require=["mt_bench.question_share>=0.95", "rouge1>0"])
    assert [f.split(":")[0] for f in info.value.failures] == ["mt_bench.question_share>=0.95", "rouge1>0"]
    ev = ondo.prompts.promote(best.prompt, alias="production", require=["mt_bench.question_share>=0.95"],
                              reason="better in sweep")
    assert ev.to_version == v2.version and ev.details is not None and ev.details["checks"][0]["passed"]
    assert ondo.prompts.get("answer@production").render(question="Why?") == "Why?"

    back = ondo.prompts.rollback("answer", alias="production", reason="users prefer the framing")
    assert back.to_version == v1.version
    assert ondo.prompts.get("answer@production") == v1

    history = ondo.prompts.history("answer", alias="production")
    for e in history:
        print(e.action, e.from_version, "->", e.to_version, e.reason)
    assert [(e.action, e.to_version) for e in history] == [("set", 1), ("promote", 2), ("rollback", 1)]
    out = capsys.readouterr().out
    assert "| answer/1 |" in out and "| answer/2 |" in out
    assert "rollback 2 -> 1 users prefer the framing" in out


def test_prompt_promotion_force_and_errors(workspace: Workspace) -> None:
    ondo.prompts.register("p", template="{{ x }}")
    with pytest.raises(InvalidInput, match="needs --reason"):
        ondo.prompts.promote("p/1", alias="production", require=["score>1"], force=True)
    ev = ondo.prompts.promote("p/1", alias="production", require=["score>1"], force=True, reason="no evals yet")
    assert ev.details is not None and ev.details["forced"] and ev.details["failures"][0].startswith("score>1: missing")
    checks: list[Any] = ondo.prompts.check("p/1", ["score>1"])
    assert checks[0].value is None and not checks[0].passed
