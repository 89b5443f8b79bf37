"""``ondo eval mt-bench`` from the command line, against a local OpenAI-compatible judge."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from ondo.cli.main import app


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["eval", "mt-bench", *args])


def test_cli_pairwise_against_baseline(fake_openai_server: Any, workspace: Any) -> None:
    judge = f"{fake_openai_server.url}#fake-judge"
    res = _run("--model", "gpt-4", "--judge", judge, "--mode", "pairwise", "--baseline", "alpaca-13b",
               "--questions", "81,82", "--json")
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert s["mode"] == "pairwise" and s["baseline"] == "alpaca-13b" and s["question_ids"] == [81, 82]
    # the judge always says A: every pair flips with the order -> all ties, as FastChat counts it
    assert (s["win"], s["loss"], s["tie"], s["unparsed"]) == (0, 0, 4, 0)
    assert s["win_rate_adjusted"] == 0.5 and s["judge_calls"] == 8
    assert {m["role"] for m in fake_openai_server.requests[0]["messages"]} == {"system", "user"}
    assert all(r["temperature"] == 0 for r in fake_openai_server.requests)
    from ondo.tracking import get_run

    assert get_run(workspace, s["run_id"]).metrics["mt_bench.win_rate_adjusted"] == 0.5
    # the table form prints the unparsed count too
    table = _run("--model", "gpt-4", "--judge", judge, "--mode", "pairwise", "--baseline", "alpaca-13b",
                 "--questions", "81")
    assert table.exit_code == 0 and "unparsed" in table.output


def test_cli_generates_answers_for_a_model_spec_on_korean_suite(fake_openai_server: Any) -> None:
    res = _run("--model", f"{fake_openai_server.url}#tiny", "--judge", f"{fake_openai_server.url}#fake-judge",
               "--suite", "ko", "--limit", "1", "--json")
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert s["suite"] == "ko" and s["score"] == 6 and s["turn1"] == 6 and s["turn2"] == 6 and s["unparsed"] == 0
    answers = [r for r in fake_openai_server.requests if r.get("model") == "tiny"]
    assert len(answers) == 2 and answers[0]["temperature"] == 0.7 and answers[0]["max_tokens"] == 1024
    assert answers[1]["messages"][1]["role"] == "assistant"  # turn 2 sees the model's own turn-1 answer


def test_cli_errors_are_one_line(fake_openai_server: Any) -> None:
    judge = f"{fake_openai_server.url}#j"
    res = _run("--model", "gpt-4", "--judge", judge, "--questions", "81", "--limit", "2")
    assert res.exit_code != 0 and "not both" in res.output + str(res.exception or "")
    res = _run("--model", "gpt-4", "--judge", judge, "--questions", "999")
    assert res.exit_code != 0 and "999" in res.output + str(res.exception or "")
    res = _run("--model", "gpt-4", "--judge", judge, "--mode", "pairwise")
    assert res.exit_code != 0 and "baseline" in res.output + str(res.exception or "")
    res = _run("--model", "gpt4", "--judge", judge, "--limit", "1")
    assert res.exit_code != 0 and "did you mean 'gpt-4'" in res.output + str(res.exception or "")


def test_registered_model_version_is_evaluated_and_recorded(fake_openai_server: Any, workspace: Any) -> None:
    from ondo.evals.judge import evaluate_mt_bench
    from ondo.registry import models as registry
    from ondo.tracking import get_run

    mv = registry.register(workspace, "assistant", api={"provider": "openai-compatible", "model": "tiny",
                                                        "base_url": fake_openai_server.url})
    res = evaluate_mt_bench("assistant/1", f"{fake_openai_server.url}#fake-judge", question_ids=[81],
                            workspace=workspace)
    assert res.summary()["score"] == 6
    inputs = {(i.kind, i.ref, i.digest) for i in get_run(workspace, res.run_id).inputs}
    assert ("model", "assistant/1", mv.digest) in inputs
    assert any(r.get("model") == "tiny" for r in fake_openai_server.requests)


def test_registered_model_version_judges_and_battles_name_it(fake_openai_server: Any, workspace: Any) -> None:
    from ondo.evals.arena import list_battles
    from ondo.registry import models as registry

    registry.register(workspace, "referee", api={"provider": "openai-compatible", "model": "fake-judge",
                                                 "base_url": fake_openai_server.url})
    res = _run("--model", "gpt-4", "--judge", "referee/1", "--mode", "pairwise", "--baseline", "alpaca-13b",
               "--questions", "81", "--json")
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert s["judge"] == "referee/1" and s["unparsed"] == 0
    assert {b.judge for b in list_battles(workspace, run_id=s["run_id"])} == {"referee/1"}
    assert any(r.get("model") == "fake-judge" for r in fake_openai_server.requests)
    bad = _run("--model", "gpt-4", "--judge", "refere/1", "--questions", "81")
    assert bad.exit_code != 0 and "referee" in bad.output and "Traceback" not in bad.output
    from ondo.tracking import get_run

    info = get_run(workspace, s["run_id"])
    assert info.tags["judge"] == "referee/1"
    assert all(i.ref != "referee/1" for i in info.inputs)  # not an input: the gate must not score the judge by it


def test_registered_versions_load_like_their_specs(workspace: Any, tmp_path: Any, monkeypatch: Any) -> None:
    """A registered judge gets what the same spec string would: local GGUF weights the judge's context
    (MT-Bench prompts pass 2,048 tokens), an API model the run's connection limit."""
    import ondo.llm
    from ondo.evals.judge import runner
    from ondo.registry import models as registry

    weights = tmp_path / "judge.gguf"
    weights.write_bytes(b"GGUF stand-in")
    registry.register(workspace, "referee", source=weights)
    registry.register(workspace, "api-referee", api={"provider": "openai-compatible", "model": "m",
                                                      "base_url": "http://127.0.0.1:9/v1"})
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(ondo.llm, "load_model_from_source", lambda source, **opts: seen.append(opts) or object())
    assert runner.load_judge("referee/1", workspace, cache=False, concurrency=3)[1] == "referee/1"
    runner.load_judge("api-referee/1", workspace, cache=False, concurrency=3)
    assert seen == [{"n_ctx": runner.LOCAL_N_CTX}, {"max_concurrency": 3}]
