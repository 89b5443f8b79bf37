"""The runner and engine with deterministic stand-in models: tracked runs, items, export, errors, CLI."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
from bench_fakes import FakeGenerator, FakeScorer, fake_logprob
from typer.testing import CliRunner

from ondo.errors import InvalidInput, NotFound, OndoError, UnsupportedOperation
from ondo.evals.bench import records
from ondo.evals.bench.engine import plan_loglikelihood, run_loglikelihood
from ondo.evals.bench.runner import evaluate
from ondo.llm.types import LoglikelihoodRequest
from ondo.workspace import Workspace


def test_engine_dedupes_groups_contexts_and_sorts_longest_first() -> None:
    reqs = [LoglikelihoodRequest("short ctx", " a"), LoglikelihoodRequest("a much longer context here", " x"),
            LoglikelihoodRequest("short ctx", " b"), LoglikelihoodRequest("short ctx", " a"),
            LoglikelihoodRequest("a much longer context here", " yy")]  # fmt: skip
    chunks = plan_loglikelihood(reqs, chunk_size=2)
    flat = [r for c in chunks for r in c]
    assert len(flat) == 4  # the repeated request is asked once
    assert [r.context for r in flat] == ["a much longer context here"] * 2 + ["short ctx"] * 2
    assert all(len({r.context for r in c}) == 1 for c in chunks)  # a context's choices stay together
    model = FakeScorer()
    out = asyncio.run(run_loglikelihood(model, reqs, chunk_size=2, progress=False))
    assert out[("short ctx", " b")].logprob == fake_logprob("short ctx", " b")
    assert sum(len(c) for c in model.calls) == 4


def test_evaluate_records_a_run_with_metrics_inputs_and_items(
    shared_data: Path, workspace: Workspace
) -> None:
    from ondo.tracking import get_run

    model = FakeScorer()
    res = evaluate(
        model, "arc_easy,mmlu_anatomy", limit=6, num_fewshot=0, data_dir=shared_data, progress=False
    )
    assert res.run_id is not None
    run = get_run(workspace, res.run_id)
    for key in ("arc_easy.acc", "arc_easy.acc_stderr", "arc_easy.acc_norm", "mmlu_anatomy.acc"):
        assert key in run.metrics
    assert run.metrics["arc_easy.acc"] == pytest.approx(res.tasks["arc_easy"].metrics["acc"])
    inputs = {(i.kind, i.ref) for i in run.inputs}
    assert ("dataset", "file:arc/ARC-Easy-Test.jsonl") in inputs
    assert all(i.digest and i.digest.startswith("sha256:") for i in run.inputs if i.kind == "dataset")

    items = records.items(workspace, res.run_id, "arc_easy")
    assert [i["doc_id"] for i in items] == list(range(6))
    first = items[0]
    assert first["prompt"].startswith("Question: ") and first["prompt"].endswith("\nAnswer:")
    expected = [fake_logprob(first["prompt"], " " + c) for c in first["choices"]]
    assert first["loglikelihoods"] == pytest.approx(expected)
    assert int(first["prediction"]) == max(range(4), key=lambda i: expected[i])
    # per-item scores average to the logged metric
    assert sum(i["scores"]["acc"] for i in items) / 6 == pytest.approx(run.metrics["arc_easy.acc"])
    worst = records.items(workspace, res.run_id, "arc_easy", worst=2)
    assert all(w["score"] <= min(i["score"] for i in items if i not in worst) for w in worst)

    buf = io.StringIO()
    assert records.export_jsonl(workspace, res.run_id, buf) == 12
    line = json.loads(buf.getvalue().splitlines()[0])
    assert {"task", "doc_id", "prediction", "gold", "loglikelihoods"} <= set(line)
    # multiple choice: prediction and gold are choice indexes (ints), as in the run's items
    assert (line["prediction"], line["gold"]) == (first["prediction"], first["gold"])
    assert isinstance(line["prediction"], int) and isinstance(line["gold"], int)
    assert line["loglikelihoods"] == pytest.approx(expected) and len(line["loglikelihoods"]) == 4


def test_group_reports_micro_and_macro(shared_data: Path) -> None:
    res = evaluate(
        FakeScorer(), "mmlu", limit=2, num_fewshot=0, data_dir=shared_data, progress=False, track=False
    )
    assert len(res.tasks) == 57
    g = res.groups["mmlu"].metrics
    accs = [t.metrics["acc"] for t in res.tasks.values()]
    assert g["acc_macro"] == pytest.approx(sum(accs) / 57)
    assert g["acc"] == pytest.approx(sum(accs) / 57)  # equal sizes: micro == macro
    assert {"mmlu_stem", "mmlu_humanities", "mmlu_social_sciences", "mmlu_other"} <= set(res.groups)
    assert res.groups["mmlu"].n_items == 114


def test_model_without_loglikelihood_gets_clear_error(shared_data: Path) -> None:
    with pytest.raises(UnsupportedOperation) as err:
        evaluate(FakeGenerator(), "arc_easy", limit=2, data_dir=shared_data, progress=False)
    msg = str(err.value)
    assert "arc_easy" in msg and "loglikelihood" in msg and "generate_until" in msg


def test_generate_until_task_runs_with_stop_sequences(shared_data: Path) -> None:
    model = FakeGenerator(answer=" A. because")
    res = evaluate(
        model,
        "kmmlu_direct_criminal_law",
        limit=4,
        num_fewshot=0,
        data_dir=shared_data,
        progress=False,
        track=False,
    )
    r = res.tasks["kmmlu_direct_criminal_law"]
    assert r.n_items == 4 and all(p.endswith("정답：") for p in model.prompts)
    golds = [1, 4, 2, 3]  # first four answers of Criminal-Law-test.csv
    assert r.metrics["exact_match"] == pytest.approx(sum(g == 1 for g in golds) / 4)


def test_bad_rows_skip_is_counted_on_the_run(tmp_path: Path, workspace: Workspace) -> None:
    from ondo.tracking import get_run

    d = tmp_path / "mmlu" / "test"
    d.mkdir(parents=True)
    (d / "anatomy_test.csv").write_text("What?,a,b,c,d,B\nWhy?,a,b,c,d,Z\nHow?,a,b,c,d,C\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"anatomy_test\.csv:2"):
        evaluate(FakeScorer(), "mmlu_anatomy", num_fewshot=0, data_dir=tmp_path, progress=False)
    res = evaluate(
        FakeScorer(), "mmlu_anatomy", num_fewshot=0, data_dir=tmp_path, progress=False, on_bad_row="skip"
    )
    assert res.tasks["mmlu_anatomy"].n_items == 2 and res.tasks["mmlu_anatomy"].n_skipped == 1
    assert get_run(workspace, res.run_id).metrics["mmlu_anatomy.n_skipped"] == 1  # type: ignore[arg-type]


def test_unknown_task_close_matches(shared_data: Path) -> None:
    with pytest.raises(NotFound, match="truthfulqa_mc2"):
        evaluate(FakeScorer(), "truthfulqa_mc3", data_dir=shared_data, progress=False)


def test_killed_run_resumes_from_the_request_cache(shared_data: Path) -> None:
    pytest.importorskip("ondo.llm.cache")
    from ondo.llm.cache import CachedModel

    dying = FakeScorer(fail_after_calls=2)
    with pytest.raises(KeyboardInterrupt):
        evaluate(
            CachedModel(dying),
            "arc_easy",
            limit=40,
            num_fewshot=0,
            data_dir=shared_data,
            progress=False,
            chunk_size=16,
            track=False,
        )
    done = sum(len(c) for c in dying.calls)
    again = FakeScorer()
    evaluate(
        CachedModel(again),
        "arc_easy",
        limit=40,
        num_fewshot=0,
        data_dir=shared_data,
        progress=False,
        chunk_size=16,
        track=False,
    )
    assert sum(len(c) for c in again.calls) == 160 - done


def test_cli_tasks_show_export(shared_data: Path, workspace: Workspace, tmp_path: Path) -> None:
    from ondo.cli.main import app

    runner = CliRunner()
    out = runner.invoke(app, ["eval", "tasks", "--json"])
    assert out.exit_code == 0, out.output
    names = {t["name"] for t in json.loads(out.output)}
    assert {"arc_easy", "mmlu", "kmmlu", "haerae", "kornli", "ko_hellaswag"} <= names

    res = evaluate(FakeScorer(), "arc_easy", limit=3, num_fewshot=0, data_dir=shared_data, progress=False)
    assert res.run_id is not None
    shown = runner.invoke(app, ["eval", "show", res.run_id, "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["tasks"][0]["task"] == "arc_easy" and len(data["worst_items"]["arc_easy"]) == 3
    target = tmp_path / "items.jsonl"
    exp = runner.invoke(app, ["eval", "export", res.run_id[:8], "-o", str(target)])
    assert exp.exit_code == 0, exp.output
    assert len(target.read_text().splitlines()) == 3

    bad = runner.invoke(app, ["eval", "bench", "--model", "local:smollm2", "--tasks", "arc_esy"])
    assert bad.exit_code != 0 and "arc_easy" in bad.output


@pytest.fixture
def registered_model(workspace: Workspace, tmp_path: Path) -> Any:
    """A registered model version whose weights are a stand-in: tests replace the loader with FakeScorer."""
    from ondo import models

    weights = tmp_path / "tiny.gguf"
    weights.write_bytes(b"GGUF not really weights")
    return models.register("assistant", weights)


def test_registry_model_is_recorded_as_run_input(
    shared_data: Path, workspace: Workspace, registered_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--model assistant@staging`` resolves through the registry; the run records model ref and digest."""
    import ondo.llm.spec
    from ondo import models
    from ondo.tracking import get_run

    mv = registered_model
    models.set_alias("assistant", "staging", mv.version)
    loaded: list[object] = []

    def fake_load(source: object, **_: object) -> FakeScorer:
        loaded.append(source)
        return FakeScorer()

    monkeypatch.setattr(ondo.llm.spec, "load_model_from_source", fake_load)
    res = evaluate(
        "assistant@staging", "arc_easy", limit=2, num_fewshot=0, data_dir=shared_data, progress=False
    )
    assert loaded == [str(mv.source)]
    run = get_run(workspace, res.run_id)  # type: ignore[arg-type]
    model_inputs = [(i.ref, i.digest) for i in run.inputs if i.kind == "model"]
    assert model_inputs == [(mv.ref, mv.digest)]
    assert run.metrics["arc_easy.acc"] == res.tasks["arc_easy"].metrics["acc"]


def test_group_with_members_missing_locally_runs_the_present_ones(shared_data: Path) -> None:
    """Only KMMLU Criminal-Law ships in shared data: the group runs it and lists the others as skipped."""
    res = evaluate(
        FakeScorer(), "kmmlu", limit=3, num_fewshot=0, data_dir=shared_data, progress=False, track=False
    )
    assert list(res.tasks) == ["kmmlu_criminal_law"]
    assert len(res.skipped_tasks) == 44 and "Accounting-test.csv" in res.skipped_tasks["kmmlu_accounting"]
    assert res.groups["kmmlu"].metrics["acc"] == res.tasks["kmmlu_criminal_law"].metrics["acc"]
    with pytest.raises(OndoError, match=r"Accounting-test\.csv"):
        evaluate(FakeScorer(), "kmmlu_accounting", limit=3, data_dir=shared_data, progress=False, track=False)


def test_cli_bench_json_summary(
    shared_data: Path, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ondo.cli.main import app
    from ondo.evals.bench import runner as bench_runner

    monkeypatch.setattr(bench_runner, "resolve_model", lambda spec: (FakeScorer(), {"spec": spec}))
    out = CliRunner().invoke(
        app,
        [
            "eval",
            "bench",
            "--model",
            "local:smollm2",
            "--tasks",
            "arc_easy,hellaswag",
            "--limit",
            "4",
            "--num-fewshot",
            "0",
            "--data-dir",
            str(shared_data),
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output[out.output.index("{") :])
    assert data["run_id"] and data["model"] == "local:smollm2"
    assert set(data["results"]) == {"arc_easy", "hellaswag"}
    assert "hellaswag.acc_norm_stderr" in data["metrics"] and data["tasks"]["arc_easy"]["n_items"] == 4
    bad = CliRunner().invoke(
        app,
        ["eval", "bench", "--tasks", "arc_easy", "--on-bad-row", "ignore", "--data-dir", str(shared_data)],
    )
    assert bad.exit_code != 0 and "skip" in bad.output


class _DyingGenerator(FakeGenerator):
    """Generates until it has answered ``die_after`` prompts, then the process is 'killed'."""

    def __init__(self, die_after: int) -> None:
        super().__init__(answer=" B")
        self.die_after = die_after

    async def _generate_one(self, request):  # type: ignore[no-untyped-def]
        if len(self.prompts) >= self.die_after:
            raise KeyboardInterrupt("killed")
        return await super()._generate_one(request)


def test_killed_generate_until_run_resumes_from_the_request_cache(shared_data: Path) -> None:
    """Generation goes through the request cache like log-likelihoods: a re-run only asks what is missing."""
    kw = dict(limit=12, num_fewshot=0, data_dir=shared_data, progress=False, track=False)
    dying = _DyingGenerator(die_after=8)  # FakeGenerator runs 8 prompts per batch (concurrency 4 x 2)
    with pytest.raises(KeyboardInterrupt):
        evaluate(dying, "kmmlu_direct_criminal_law", **kw)  # type: ignore[arg-type]
    assert len(dying.prompts) == 8
    again = FakeGenerator(answer=" B")
    res = evaluate(again, "kmmlu_direct_criminal_law", **kw)  # type: ignore[arg-type]
    assert len(again.prompts) == 4 and res.tasks["kmmlu_direct_criminal_law"].n_items == 12
    uncached = FakeGenerator(answer=" B")
    evaluate(uncached, "kmmlu_direct_criminal_law", cache=False, **kw)  # type: ignore[arg-type]
    assert len(uncached.prompts) == 12


def test_unknown_model_scheme_is_one_clear_error(shared_data: Path) -> None:
    with pytest.raises(InvalidInput, match=r"unknown model scheme 'locl:'.*did you mean 'local:'.*hf:PATH"):
        evaluate("locl:smollm2", "arc_easy", limit=2, data_dir=shared_data, progress=False, track=False)
    with pytest.raises(NotFound, match="model 'assistant' not found"):  # a registry id is still looked up
        evaluate("assistant@staging", "arc_easy", limit=2, data_dir=shared_data, progress=False, track=False)


def test_cli_bench_skip_names_each_bad_row_with_file_and_line(
    tmp_path: Path, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ondo.cli.main import app
    from ondo.evals.bench import runner as bench_runner

    d = tmp_path / "mmlu" / "test"
    d.mkdir(parents=True)
    (d / "anatomy_test.csv").write_text("What?,a,b,c,d,B\nWhy?,a,b,c,d,Z\nHow?,a,b,c,d,C\n", encoding="utf-8")
    monkeypatch.setattr(bench_runner, "resolve_model", lambda spec: (FakeScorer(), {"spec": spec}))
    monkeypatch.setenv("COLUMNS", "300")
    args = ["eval", "bench", "--tasks", "mmlu_anatomy", "--num-fewshot", "0", "--data-dir", str(tmp_path)]
    out = CliRunner().invoke(app, [*args, "--on-bad-row", "skip"])
    assert out.exit_code == 0, out.output
    assert "anatomy_test.csv:2" in out.output and "'Z'" in out.output
    stop = CliRunner().invoke(app, args)
    assert stop.exit_code == 1 and "anatomy_test.csv:2" in stop.output and "Traceback" not in stop.output


@pytest.mark.parametrize(("limit", "shots"), [(-5, 0), (0, 0), (2.5, 0), (3, -1)])
def test_nonsense_limit_or_fewshot_is_refused_before_any_work(shared_data: Path, limit: float, shots: int) -> None:
    model = FakeScorer()
    with pytest.raises(InvalidInput, match=r"limit|num_fewshot"):
        evaluate(model, "arc_easy", limit=limit, num_fewshot=shots, data_dir=shared_data, progress=False,
                 track=False)
    assert model.calls == []


def test_fractional_limit_takes_that_share_of_documents(shared_data: Path) -> None:
    res = evaluate(FakeScorer(), "arc_easy", limit=0.001, num_fewshot=0, data_dir=shared_data, progress=False,
                   track=False)
    assert res.tasks["arc_easy"].n_items == 3  # ceil(2376 * 0.001), as lm-eval


def test_bench_run_feeds_the_registry_promotion_gate(
    shared_data: Path, workspace: Workspace, registered_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mmlu.acc>=X`` on a model version reads the MMLU group accuracy of the bench run that evaluated it."""
    import ondo.llm.spec
    from ondo import models
    from ondo.errors import GateFailed

    mv = registered_model
    monkeypatch.setattr(ondo.llm.spec, "load_model_from_source", lambda source, **_: FakeScorer())
    res = evaluate(mv.ref, "mmlu", limit=2, num_fewshot=0, data_dir=shared_data, progress=False)
    acc = res.groups["mmlu"].metrics["acc"]
    assert 0 < acc < 1
    checks = models.check(mv.ref, [f"mmlu.acc>={acc}", "mmlu_anatomy.acc_stderr>=0"])
    assert [c.passed for c in checks] == [True, True] and checks[0].run_id == res.run_id
    assert checks[0].value == pytest.approx(acc)
    with pytest.raises(GateFailed, match=r"mmlu\.acc"):
        models.promote(mv.ref, "production", [f"mmlu.acc>={acc + 0.01}"])
    models.promote(mv.ref, "production", [f"mmlu.acc>={acc}"])
    assert models.get("assistant@production").version == mv.version
