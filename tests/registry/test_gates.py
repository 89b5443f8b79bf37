"""Gated promotion: requirements checked against evaluation runs linked to the exact model version."""

from __future__ import annotations

import math
import operator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ondo
from ondo.errors import GateFailed, InvalidInput
from ondo.registry.gates import OPS, Requirement, parse_requirement
from ondo.workspace import Workspace


@pytest.fixture
def models(workspace: Workspace, tmp_path: Path) -> list[ondo.models.ModelVersion]:
    out = []
    for i in range(4):
        w = tmp_path / f"m{i}.gguf"
        w.write_bytes(b"GGUF\x03\x00\x00\x00" + bytes([i]) * 16)
        out.append(ondo.models.register("summarizer", source=w))
    ondo.models.set_alias("summarizer", "production", version=1, reason="first release")
    return out


def evaluate(model: ondo.models.ModelVersion, metrics: dict[str, float], fail: bool = False) -> str:
    """An evaluation run as the evals engineer writes it: the model as input, '<task>.<metric>' metrics."""
    with ondo.start_run(experiment="eval") as run:
        run.record_input("model", model.ref, digest=model.digest)
        run.log_metrics(metrics)
        if fail:
            run.end("failed")
    return run.id


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mmlu.acc>=0.45", Requirement("mmlu.acc", ">=", 0.45)),
        (" mt_bench.score >= 6 ", Requirement("mt_bench.score", ">=", 6.0)),
        ("latency_p95<1.5e3", Requirement("latency_p95", "<", 1500.0)),
        ("ko/kmmlu.acc>0", Requirement("ko/kmmlu.acc", ">", 0.0)),
        ("loss<=-0.5", Requirement("loss", "<=", -0.5)),
        ("errors==0", Requirement("errors", "==", 0.0)),
        ("flag!=1", Requirement("flag", "!=", 1.0)),
    ],
)
def test_requirements_parse(text: str, expected: Requirement) -> None:
    assert parse_requirement(text) == expected


@pytest.mark.parametrize("text", ["mmlu.acc", "mmlu.acc>=", ">=0.4", "mmlu.acc=>0.4", "mmlu.acc>=high",
                                  "mmlu.acc>=nan", "mmlu acc>=0.4", "mmlu.acc ~ 0.4", ""])
def test_malformed_requirements_are_precise_errors(text: str) -> None:
    with pytest.raises(InvalidInput, match="requirement"):
        parse_requirement(text)


@given(
    metric=st.from_regex(r"[a-z][a-z0-9_]{0,8}(\.[a-z0-9_]{1,8}){0,2}", fullmatch=True),
    op=st.sampled_from(sorted(OPS)),
    threshold=st.floats(allow_nan=False, allow_infinity=False, width=32),
    value=st.floats(allow_nan=False, width=32),
)
def test_requirement_round_trips_and_compares_like_python(metric: str, op: str, threshold: float, value: float) -> None:
    req = parse_requirement(f"{metric}{op}{threshold!r}")
    assert req == Requirement(metric, op, threshold) and parse_requirement(str(req)) == req
    py = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq,
          "!=": operator.ne}[op]
    assert req.met_by(value) is py(value, threshold)
    assert req.met_by(math.nan) is False


def test_promotion_passes_when_linked_runs_meet_every_requirement(models: list) -> None:
    v4 = models[3]
    run_id = evaluate(v4, {"mmlu.acc": 0.47, "mt_bench.score": 6.5})
    ev = ondo.models.promote("summarizer/4", alias="production", require=["mmlu.acc>=0.45", "mt_bench.score>=6"])
    assert (ev.from_version, ev.to_version, ev.action) == (1, 4, "promote")
    assert ev.details is not None and ev.details["forced"] is False and ev.details["failures"] == []
    assert [(c["requirement"], c["value"], c["run_id"], c["passed"]) for c in ev.details["checks"]] == [
        ("mmlu.acc>=0.45", 0.47, run_id, True), ("mt_bench.score>=6", 6.5, run_id, True)
    ]
    assert ondo.models.get("summarizer@production").version == 4
    assert ondo.models.history("summarizer", alias="production")[-1].details == ev.details
    one = ondo.models.promote("summarizer/4", alias="staging", require="mmlu.acc>=0.45")  # one requirement alone
    assert one.details is not None and one.details["require"] == ["mmlu.acc>=0.45"]
    assert [c.passed for c in ondo.models.check("summarizer/4", "mt_bench.score>=7")] == [False]


def test_failing_and_missing_requirements_are_each_listed(models: list) -> None:
    evaluate(models[3], {"mmlu.acc": 0.41})
    evaluate(models[2], {"mt_bench.score": 9.0})  # another version's results do not count for /4
    with pytest.raises(GateFailed) as info:
        ondo.models.promote("summarizer/4", alias="production",
                            require=["mmlu.acc>=0.45", "mt_bench.score>=6", "truthfulqa.mc2>0.3"])
    failures = info.value.failures
    assert len(failures) == 3
    assert failures[0].startswith("mmlu.acc>=0.45: failed, got 0.41")
    assert failures[1].startswith("mt_bench.score>=6: missing") and failures[2].startswith("truthfulqa.mc2>0.3: missing")
    assert "summarizer/4" in str(info.value) and "mt_bench.score>=6" in str(info.value)
    assert ondo.models.get("summarizer@production").version == 1  # nothing moved
    assert len(ondo.models.history("summarizer", alias="production")) == 1  # nothing recorded


def test_no_linked_runs_at_all_fails_every_requirement(models: list) -> None:
    with pytest.raises(GateFailed) as info:
        ondo.models.promote("summarizer/2", alias="production", require=["mmlu.acc>=0.45"])
    assert info.value.failures == ["mmlu.acc>=0.45: missing (no run linked to this version logged 'mmlu.acc')"]


def test_force_needs_a_reason_and_records_it(models: list) -> None:
    evaluate(models[3], {"mmlu.acc": 0.30})
    with pytest.raises(InvalidInput, match=r"--force needs --reason"):
        ondo.models.promote("summarizer/4", alias="production", require=["mmlu.acc>=0.45"], force=True)
    ev = ondo.models.promote("summarizer/4", alias="production", require=["mmlu.acc>=0.45"], force=True,
                             reason="hotfix for incident 42")
    assert ev.reason == "hotfix for incident 42" and ev.to_version == 4
    assert ev.details is not None and ev.details["forced"] is True
    assert ev.details["failures"] == ["mmlu.acc>=0.45: failed, got 0.3 (run " + ev.details["checks"][0]["run_id"] + ")"]
    last = ondo.models.history("summarizer", alias="production")[-1]
    assert (last.reason, last.details["forced"]) == ("hotfix for incident 42", True)  # type: ignore[index]


def test_failed_and_deleted_runs_do_not_count_and_newest_value_wins(models: list, workspace: Workspace) -> None:
    v4 = models[3]
    evaluate(v4, {"mmlu.acc": 0.9}, fail=True)
    with pytest.raises(GateFailed, match="missing"):
        ondo.models.promote(v4.ref, alias="production", require=["mmlu.acc>=0.45"])
    good = evaluate(v4, {"mmlu.acc": 0.5})
    evaluate(v4, {"mmlu.acc": 0.4})  # re-evaluated later, worse: the newest result counts
    with pytest.raises(GateFailed, match=r"got 0\.4"):
        ondo.models.promote(v4.ref, alias="production", require=["mmlu.acc>=0.45"])
    checks = ondo.models.check(v4.ref, ["mmlu.acc>=0.35"])
    assert checks[0].passed and checks[0].value == 0.4 and checks[0].run_id != good
    from ondo.tracking import delete_run

    delete_run(workspace, checks[0].run_id)
    assert ondo.models.check(v4.ref, ["mmlu.acc>=0.45"])[0].run_id == good


def test_nan_metric_fails_and_unflushed_metrics_of_an_open_run_count(models: list) -> None:
    v2 = models[1]
    evaluate(v2, {"mmlu.acc": math.nan})
    with pytest.raises(GateFailed, match="got nan"):
        ondo.models.promote(v2.ref, alias="production", require=["mmlu.acc>=0.45"])
    with ondo.start_run(experiment="eval") as run:
        run.record_input("model", v2.ref, digest=v2.digest)
        run.log_metric("mmlu.acc", 0.6)  # buffered by the batching writer, not yet flushed
        ev = ondo.models.promote("summarizer@v2", alias="production", require=["mmlu.acc>=0.45"])
    assert ev.to_version == 2


def test_promote_resolves_aliases_to_the_version_they_hold(models: list) -> None:
    ondo.models.set_alias("summarizer", "staging", version=3)
    evaluate(models[2], {"mmlu.acc": 0.5})
    ev = ondo.models.promote("summarizer@staging", alias="production", require=["mmlu.acc>=0.45"])
    assert ev.to_version == 3 and ev.details is not None and ev.details["version"] == 3


def test_runs_recording_another_identifier_count_only_with_the_same_digest(models: list) -> None:
    v3, v4 = models[2], models[3]
    ondo.models.set_alias("summarizer", "staging", version=4)
    with ondo.start_run(experiment="eval") as run:
        run.record_input("model", "summarizer@staging", digest=v4.digest)
        run.log_metric("mmlu.acc", 0.5)
    with ondo.start_run(experiment="eval") as other:
        other.record_input("model", "summarizer@staging", digest=v3.digest)  # other weights: not v4's result
        other.log_metric("mt_bench.score", 9.0)
    checks = ondo.models.check("summarizer/4", ["mmlu.acc>=0.45", "mt_bench.score>=6"])
    assert [(c.passed, c.run_id) for c in checks] == [(True, run.id), (False, None)]
    with ondo.start_run(experiment="eval") as by_object:
        by_object.record_input("model", v3)  # a version object records its canonical 'name/N'
        by_object.log_metric("mmlu.acc", 0.7)
    assert ondo.models.check("summarizer/3", ["mmlu.acc>=0.45"])[0].run_id == by_object.id
