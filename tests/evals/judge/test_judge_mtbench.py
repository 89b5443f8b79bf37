"""MT-Bench judging with scripted judges: FastChat's prompts, verdict parsing, retries, swap logic, results."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ondo.evals.judge import (
    NEED_REF_CATS,
    evaluate_mt_bench,
    load_suite,
    load_verdicts,
    parse_rating,
    parse_winner,
)
from ondo.evals.judge import prompt_set as ps
from ondo.llm.types import ChatRequest


@pytest.fixture
def suite(shared_data: Path) -> Any:
    return load_suite("en", shared_data)


def test_suites_load_real_data(shared_data: Path) -> None:
    en, ko = load_suite("en", shared_data), load_suite("ko", shared_data)
    assert len(en.questions) == 80 and len(ko.questions) == 80
    assert len(en.references) == 30 and len(en.judge_prompts) == 8 and len(ko.judge_prompts) == 8
    assert {q.question_id for q in en.questions if q.needs_reference} <= set(en.references)
    assert len(en.published_models()) == 8 and "alpaca-13b" in en.published_models()
    assert en.question(81).temperature == 0.7 and en.question(111).temperature == 0.0
    assert en.question(151).temperature == 0.1


@pytest.mark.parametrize("suite_name", ["en", "ko"])
def test_registered_prompts_render_exactly_as_fastchat(shared_data: Path, workspace: Any, suite_name: str) -> None:
    """The registry renders every judge prompt to the text FastChat's str.format gives."""
    su = load_suite(suite_name, shared_data)
    reg = ps.registered(su, workspace)
    rng = random.Random(0)
    for name, raw in su.judge_prompts.items():
        p = reg.prompts[name]
        assert p.ref == f"{ps.registry_name(su.name, name)}/1"
        fields = set(ps._FIELD.findall(raw["prompt_template"]))
        values = {f: f"<{f} {rng.random()} {{not a field}} {{{{ x }}}} 한국어\n>" for f in fields}
        system, user = p.render(values)
        assert user == raw["prompt_template"].format(**values)
        assert system == raw["system_prompt"]
    # registering again is idempotent: same versions
    again = ps.registered(su, workspace)
    assert {k: v.ref for k, v in again.prompts.items()} == {k: v.ref for k, v in reg.prompts.items()}


def test_edited_prompt_version_is_used(shared_data: Path, workspace: Any) -> None:
    from ondo.prompts import versions as pv

    su = load_suite("en", shared_data)
    ps.registered(su, workspace)
    name = ps.registry_name("en", "single-v1")
    pv.register(workspace, name, [{"role": "system", "content": "Be terse."},
                                  {"role": "user", "content": "Q: {{ question }}\nA: {{ answer }}\nRate [[N]]."}])
    p = ps.registered(su, workspace).prompts["single-v1"]
    assert p.ref == f"{name}/2"
    assert p.render({"question": "q", "answer": "a"}) == ("Be terse.", "Q: q\nA: a\nRate [[N]].")


def test_verdict_parsing_matches_published_gpt4_judgments(shared_data: Path) -> None:
    """KoMT-Bench's published GPT-4 judgments: our parse of each judgment equals the score stored with it."""
    path = shared_data / "korean" / "ko_mt_bench" / "model_judgment_gpt-4_single_final.jsonl"
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    assert len(rows) == 160
    for r in rows:
        got = parse_rating(r["judgment"])
        assert (got if got is not None else -1) == r["score"], r["question_id"]


def test_parse_rules() -> None:
    assert parse_rating("Rating: [[7]]") == 7 and parse_rating("score [8.5]") == 8.5
    assert parse_rating("[[3]] then [9]") == 3  # double brackets win over the backup pattern
    assert parse_rating("no verdict") is None
    assert parse_winner("... [[B]] ... [[A]]") == "A"  # FastChat checks A first
    assert parse_winner("[[C]]") == "tie" and parse_winner("[A]") is None


def _rating_judge(scores: dict[str, float]) -> Any:
    """Rates an answer by a keyword it contains."""

    def reply(req: ChatRequest) -> str:
        user = req.messages[-1].text
        for key, s in scores.items():
            if key in user:
                return f"Explanation mentioning {key}. Rating: [[{s:g}]]"
        return "I cannot decide."

    return reply


def test_single_grading_per_turn_category_and_unparsed(suite: Any, scripted: Any, workspace: Any) -> None:
    # gpt-4 answers are rated 9 except where the judge produces no verdict at all
    calls: dict[str, int] = {}

    def reply(req: ChatRequest) -> str:
        user = req.messages[-1].text
        calls[user] = calls.get(user, 0) + 1
        if "Hawaii" in user and "Assistant A" in user:  # q81 turn 2: never parseable
            return "Looks fine to me."
        if "Hawaii" in user and calls[user] == 1:  # q81 turn 1: parseable on the retry
            return "Hmm."
        return "Good. Rating: [[8]]" if "Assistant A" in user else "Great. Rating: [[9]]"

    judge = scripted(reply)
    res = evaluate_mt_bench("gpt-4", judge, mode="single", suite=suite, question_ids=[81, 111],
                            max_retries=2, workspace=workspace)
    s = res.summary()
    assert s["unparsed"] == 1 and s["verdicts"] == 4
    assert s["turn1"] == 9 and s["turn2"] == 8  # the unparsed verdict is not averaged in
    assert s["score"] == pytest.approx((9 + 9 + 8) / 3)
    assert s["categories"] == {"math": pytest.approx(8.5), "writing": 9}
    assert res.stats.retries == 1 + 2  # one retry that worked, two that did not
    # retries ask with a fresh seed, greedy first
    temps = [(r.temperature, r.seed) for r in judge.requests if "Hawaii" in r.messages[-1].text]
    assert (0.0, None) in temps and (0.7, 1) in temps
    # the math question was judged against the reference answer with single-math-v1
    rows = load_verdicts(workspace, res.run_id)
    math_t1 = next(r for r in rows if r["question_id"] == 111 and r["turn"] == 1)
    assert math_t1["prompt_name"] == "single-math-v1" and "[The Start of Reference Answer]" in math_t1["user_prompt"]
    assert suite.references[111][0] in math_t1["user_prompt"]
    assert next(r for r in rows if r["question_id"] == 111 and r["turn"] == 2)["prompt_name"] == "single-math-v1-multi-turn"
    bad = next(r for r in rows if not r["parsed"])
    assert bad["score"] is None and bad["judgment"] == "Looks fine to me." and bad["attempts"] == 3
    assert all(r["judgment"] for r in rows)  # explanations stored
    # the run carries the metrics, the judge prompt versions and the model
    from ondo.tracking import get_run

    info = get_run(workspace, res.run_id)
    assert info.metrics["mt_bench.score"] == pytest.approx(s["score"])
    assert info.metrics["mt_bench.turn1"] == 9 and info.metrics["mt_bench.unparsed"] == 1
    refs = {(i.kind, i.ref) for i in info.inputs}
    assert ("prompt", "mt-bench-judge/single-v1/1") in refs and ("prompt", "mt-bench-judge/single-math-v1/1") in refs
    assert ("model", "gpt-4") in refs


def test_pairwise_swap_logic_and_win_rates(suite: Any, scripted: Any, shown_answers: Any, workspace: Any) -> None:
    """A judge that prefers the longer answer is consistent under swapping; one that always says A is not."""

    def longer(req: ChatRequest) -> str:
        a, b = shown_answers(req)
        return "A is longer. [[A]]" if len(a) > len(b) else ("B is longer. [[B]]" if len(b) > len(a) else "[[C]]")

    res = evaluate_mt_bench("gpt-4", scripted(longer), mode="pairwise", baseline="alpaca-13b", suite=suite,
                            limit=4, workspace=workspace)
    ans_g, ans_a = suite.published_answers("gpt-4"), suite.published_answers("alpaca-13b")
    wins = losses = ties = 0
    for qid in res.question_ids:
        for t in (0, 1):
            if len(ans_g[qid][t]) > len(ans_a[qid][t]):
                wins += 1
            elif len(ans_g[qid][t]) < len(ans_a[qid][t]):
                losses += 1
            else:
                ties += 1
    s = res.summary()
    assert (s["win"], s["loss"], s["tie"]) == (wins, losses, ties)
    assert s["win_rate"] == pytest.approx(wins / 8) and s["win_rate_adjusted"] == pytest.approx((wins + 0.5 * ties) / 8)
    assert s["inconsistent"] == 0 and s["unparsed"] == 0 and "alpaca-13b" not in s["results"]

    biased = evaluate_mt_bench("gpt-4", scripted(lambda r: "First is best. [[A]]", name="biased"), mode="pairwise",
                               baseline="alpaca-13b", suite=suite, limit=4, workspace=workspace)
    b = biased.summary()
    assert b["tie"] == 8 and b["win"] == 0 and b["inconsistent"] == 8
    assert b["win_rate"] == 0 and b["win_rate_adjusted"] == 0.5
    # the pairwise judge filled the arena
    from ondo.evals.arena import list_battles

    battles = list_battles(workspace, run_id=res.run_id)
    assert len(battles) == 8 and {bt.judge for bt in battles} == {"scripted-judge"}
    assert sum(bt.outcome == "a" for bt in battles) == wins


def test_pairwise_all_pairs_and_unparseable_games(suite: Any, scripted: Any, workspace: Any) -> None:
    def reply(req: ChatRequest) -> str:
        return "no idea" if "Hawaii" in req.messages[-1].text else "[[C]]"

    res = evaluate_mt_bench(["gpt-4", "claude-v1", "llama-13b"], scripted(reply), mode="pairwise",
                            suite=suite, question_ids=[81, 82], max_retries=1, workspace=workspace)
    s = res.summary()
    assert s["pairs"] == 2 * 2 * 3  # questions x turns x pairs
    assert s["unparsed"] == 2 * 3 * 2  # q81: 2 turns x 3 pairs x 2 games
    for m in ("gpt-4", "claude-v1", "llama-13b"):
        assert s["results"][m]["tie"] == 4 and s["results"][m]["unparsed"] == 4


def test_answer_generation_temperatures_and_turn2_context(suite: Any, scripted: Any, workspace: Any) -> None:
    def answer(req: ChatRequest) -> str:
        return f"answer to: {req.messages[-1].text[:20]}"

    model = scripted(answer, name="tiny-model")
    judge = scripted(lambda r: "ok [[5]]")
    res = evaluate_mt_bench(model, judge, mode="single", suite=suite, question_ids=[81, 111, 151],
                            workspace=workspace)
    by_q: dict[str, list[ChatRequest]] = {}
    for r in model.requests:
        by_q.setdefault(r.messages[0].text, []).append(r)
    for q in (suite.question(81), suite.question(111), suite.question(151)):
        reqs = by_q[q.turns[0]]
        assert [r.temperature for r in reqs] == [q.temperature, q.temperature]
        assert all(r.max_tokens == 1024 for r in reqs)
        turn2 = next(r for r in reqs if len(r.messages) == 3)
        assert turn2.messages[1].role == "assistant"
        assert turn2.messages[1].text == f"answer to: {q.turns[0][:20]}".strip()  # FastChat strips answers
        assert turn2.messages[2].text == q.turns[1]
    assert res.summary()["score"] == 5
    assert "math" in NEED_REF_CATS


def test_concurrency_limit_is_reached_not_exceeded(suite: Any, scripted: Any, workspace: Any) -> None:
    judge = scripted(lambda r: "[[6]]", delay=0.02)
    res = evaluate_mt_bench(["gpt-4", "claude-v1"], judge, mode="single", suite=suite, limit=5, concurrency=3,
                            workspace=workspace)
    assert judge.max_in_flight == 3 and res.stats.max_in_flight == 3
    assert res.stats.calls == 5 * 2 * 2


def test_verdict_rows_are_stored_on_both_stores(suite: Any, scripted: Any, workspace: Any) -> None:
    from ondo.store.tables.judge import judge_answers

    res = evaluate_mt_bench("llama-13b", scripted(lambda r: "[[2]]"), suite=suite, limit=2, workspace=workspace)
    with workspace.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(judge_answers)
                         .where(judge_answers.c.run_id == res.run_id)).scalar_one()
    assert n == 2
    assert len(load_verdicts(workspace, res.run_id)) == 4


def test_korean_suite_uses_korean_prompts_and_references(shared_data: Path, scripted: Any, workspace: Any) -> None:
    ko = load_suite("ko", shared_data)
    judge = scripted(lambda r: "좋습니다. 점수: [[7]]")
    res = evaluate_mt_bench("gpt-4", judge, suite=ko, question_ids=[101], workspace=workspace) if "gpt-4" in \
        ko.published_models() else None
    if res is None:  # KoMT-Bench ships no model answers: generate them with a scripted model
        model = scripted(lambda r: "답변", name="ko-model")
        res = evaluate_mt_bench(model, judge, suite=ko, question_ids=[101], workspace=workspace)
    s = res.summary()
    assert s["suite"] == "ko" and s["score"] == 7 and s["unparsed"] == 0
    first = judge.requests[0].messages
    assert first[0].text == ko.judge_prompts["single-math-v1"]["system_prompt"]
    user = [r.messages[-1].text for r in judge.requests]
    assert any(ko.references[101][0] in u for u in user)  # the Korean reference answer
    from ondo.tracking import get_run

    assert get_run(workspace, res.run_id).metrics["ko_mt_bench.score"] == 7


def test_rerun_through_request_cache_makes_zero_calls(suite: Any, scripted: Any, workspace: Any) -> None:
    from ondo.llm import CachedModel

    inner = scripted(lambda r: "Fine. [[B]]" if "Hawaii" in r.messages[-1].text else "Fine. [[A]]")
    judge = CachedModel(inner, workspace)
    first = evaluate_mt_bench(["gpt-4", "vicuna-13b-v1.3"], judge, mode="pairwise", suite=suite, limit=3,
                              workspace=workspace)
    n = len(inner.requests)
    assert n == first.stats.calls == 3 * 2 * 2
    again = evaluate_mt_bench(["gpt-4", "vicuna-13b-v1.3"], judge, mode="pairwise", suite=suite, limit=3,
                              workspace=workspace)
    assert len(inner.requests) == n  # zero new calls
    assert again.stats.cached == again.stats.calls
    assert again.summary()["results"] == first.summary()["results"]


def test_prompt_longer_than_the_judge_context_is_a_one_line_error(suite: Any, scripted: Any, workspace: Any) -> None:
    """llama.cpp refuses a prompt longer than its context with a ValueError; the user sees which question."""
    from ondo.errors import InvalidInput

    def refuse(req: ChatRequest) -> str:
        if "Hawaii" in req.messages[-1].text:
            raise ValueError("Requested tokens (2080) exceed context window of 2048")
        return "[[A]]"

    with pytest.raises(InvalidInput) as err:
        evaluate_mt_bench("gpt-4", scripted(refuse), mode="pairwise", baseline="alpaca-13b", suite=suite,
                          question_ids=[81], workspace=workspace, record=False)
    assert "question 81" in str(err.value) and "context" in str(err.value) and "\n" not in str(err.value)

    def other(req: ChatRequest) -> str:
        raise ValueError("something else")

    with pytest.raises(ValueError, match="something else"):  # other failures are not disguised
        evaluate_mt_bench("gpt-4", scripted(other), suite=suite, question_ids=[81], workspace=workspace, record=False)


def test_local_judge_gets_a_context_for_the_longest_judge_prompt() -> None:
    """Question 81's turn-2 pairwise prompt is ~2.1k tokens: llama.cpp's 2,048 default would refuse it."""
    pytest.importorskip("llama_cpp")
    from ondo.evals.judge.runner import LOCAL_N_CTX, _load

    model = _load("local:smollm2", cache=False)
    assert model.generator.n_ctx == LOCAL_N_CTX >= 4096 + 2048  # no weights are loaded to check this
    assert _load("local:smollm2,n_ctx=4096", cache=False).generator.n_ctx == 4096  # the spec's own value wins


def test_bad_selection_is_rejected_and_repeats_are_judged_once(suite: Any, scripted: Any, workspace: Any) -> None:
    from ondo.errors import InvalidInput

    judge = scripted(lambda r: "[[5]]")
    for limit in (0, -1):
        with pytest.raises(InvalidInput, match="limit"):
            evaluate_mt_bench("gpt-4", judge, suite=suite, limit=limit, workspace=workspace, record=False)
    with pytest.raises(InvalidInput, match="baseline"):
        evaluate_mt_bench("gpt-4", judge, mode="pairwise", baseline="gpt-4", suite=suite, limit=1,
                          workspace=workspace, record=False)
    assert judge.requests == []
    res = evaluate_mt_bench("gpt-4", judge, suite=suite, question_ids=[81, 81, 82], workspace=workspace, record=False)
    assert res.question_ids == [81, 82] and len(res.verdicts) == 4


@pytest.mark.parametrize("max_tokens", [1, 16, 48, 2016, 2017, 2048, 8192])
def test_verdict_grammars_stay_within_llama_cpp_repetition_limit(max_tokens: int) -> None:
    """llama.cpp silently drops a grammar with a repetition above 2000 (the judge then rambles unconstrained
    past FastChat's 2,048-token budget); the explanation bound stays within it and within the budget."""
    import re

    from ondo.evals.judge import rating_grammar, winner_grammar
    from ondo.evals.judge.engine import _verdict_schema

    for grammar in (rating_grammar(max_tokens), winner_grammar(max_tokens), rating_grammar(max_tokens, "점수")):
        bounds = [int(n) for n in re.findall(r"\{0,(\d+)\}", grammar)]
        assert bounds and all(n <= 2000 and n <= max(0, max_tokens - 16) for n in bounds)
    for single in (True, False):
        assert _verdict_schema(single, max_tokens)["properties"]["explanation"]["maxLength"] <= 2000


def test_killed_evaluation_resumes_from_the_request_cache(suite: Any, scripted: Any, workspace: Any) -> None:
    """A run that dies part-way keeps every judgment it got; the re-run only asks for the rest."""
    from ondo.llm import CachedModel

    state = {"fail_after": 5, "answered": 0}

    def reply(req: ChatRequest) -> str:
        if state["answered"] >= state["fail_after"]:
            raise RuntimeError("judge server went away")
        state["answered"] += 1
        return "Fine. Rating: [[7]]"

    inner = scripted(reply)
    judge = CachedModel(inner, workspace)
    with pytest.raises(RuntimeError, match="went away"):
        evaluate_mt_bench("gpt-4", judge, suite=suite, limit=6, concurrency=1, workspace=workspace)
    state["fail_after"] = 10**6
    before = state["answered"]
    res = evaluate_mt_bench("gpt-4", judge, suite=suite, limit=6, concurrency=1, workspace=workspace)
    assert before == 5 and state["answered"] - before == 12 - 5  # only the judgments the first run never got
    assert res.stats.cached == 5 and res.summary()["score"] == 7 and res.unparsed == 0
