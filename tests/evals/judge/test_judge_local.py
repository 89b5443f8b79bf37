"""Done-when: the bundled SmolLM2 judges two published answer sets pairwise through llama.cpp, with
grammar-constrained verdicts, end to end from the CLI, and no verdict is left unparsed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.llm


@pytest.mark.slow
def test_local_pairwise_judge_has_zero_unparsed_verdicts(workspace: Any) -> None:
    pytest.importorskip("llama_cpp")
    from ondo.cli.main import app
    from ondo.evals.arena import list_battles
    from ondo.evals.judge import load_verdicts

    res = CliRunner().invoke(app, [
        "eval", "mt-bench", "--model", "gpt-4", "--judge", "local:smollm2", "--mode", "pairwise",
        "--baseline", "alpaca-13b", "--questions", "136", "--judge-max-tokens", "32", "--json",
    ])
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert s["unparsed"] == 0 and s["verdicts"] == 4 and s["pairs"] == 2
    assert s["win"] + s["loss"] + s["tie"] == 2
    rows = load_verdicts(workspace, s["run_id"])
    assert len(rows) == 4 and all(r["parsed"] and r["winner"] in ("model_1", "model_2", "tie") for r in rows)
    assert all(r["judgment"].rstrip().endswith(("[[A]]", "[[B]]", "[[C]]")) for r in rows)  # grammar-shaped
    assert {r["prompt_name"] for r in rows} == {"pair-v2", "pair-v2-multi-turn"}
    assert len(list_battles(workspace, run_id=s["run_id"])) == 2


def test_grammar_constrained_verdicts_always_parse(shared_data: Any, workspace: Any) -> None:
    """The fast variant for the default suite: one turn-1 pair (both orders) and one single grading,
    with a budget so small the model could never reach a verdict on its own."""
    import asyncio

    pytest.importorskip("llama_cpp")
    from ondo.evals.judge import Judge, Limiter, load_suite
    from ondo.evals.judge.matches import PairMatch, SingleMatch
    from ondo.evals.judge.prompt_set import from_suite
    from ondo.llm import load_model

    su = load_suite("en", shared_data)
    prompts = from_suite(su)
    q = su.question(136)
    model = load_model("local:smollm2")
    judge = Judge(model, max_tokens=20, max_retries=0, limiter=Limiter(2))
    assert judge.constrain == "grammar"
    pair = PairMatch(q, "gpt-4", "alpaca-13b", su.published_answers("gpt-4")[136],
                     su.published_answers("alpaca-13b")[136], 1, prompts.for_question(q, 1, "pairwise"), None)
    single = SingleMatch(q, "alpaca-13b", su.published_answers("alpaca-13b")[136], 1,
                         prompts.for_question(q, 1, "single"), None)

    async def go() -> Any:
        return await asyncio.gather(judge.pair(pair), judge.single(single))

    games, graded = asyncio.run(go())
    assert all(g.parsed and g.attempts == 1 for g in games)
    assert graded.parsed and 1 <= graded.score <= 10 and "Rating: [[" in graded.judgment


@pytest.mark.slow
def test_fastchat_budget_grammar_is_applied_by_llama_cpp(shared_data: Any, workspace: Any) -> None:
    """With FastChat's 2,048-token judge budget the grammar must still reach llama.cpp: before the
    explanation bound was capped at 2000, llama.cpp dropped the grammar and SmolLM2 wrote ~9k characters
    without a verdict on every attempt."""
    import asyncio

    pytest.importorskip("llama_cpp")
    from ondo.evals.judge import Judge, Limiter, load_suite
    from ondo.evals.judge.matches import SingleMatch
    from ondo.evals.judge.prompt_set import from_suite
    from ondo.evals.judge.runner import _load

    su = load_suite("en", shared_data)
    q = su.question(136)
    judge = Judge(_load("local:smollm2", cache=False), max_tokens=2048, max_retries=0, limiter=Limiter(1))
    m = SingleMatch(q, "alpaca-13b", su.published_answers("alpaca-13b")[136], 1, from_suite(su).for_question(q, 1, "single"),
                    None)
    v = asyncio.run(judge.single(m))
    assert v.parsed and v.attempts == 1 and 1 <= (v.score or 0) <= 10
    assert len(v.judgment) <= 2000 + len("\nRating: [[10]]")
