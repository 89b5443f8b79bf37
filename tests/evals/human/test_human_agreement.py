"""Agreement statistics on PandaLM's 999 human-annotated pairs, against scikit-learn and statsmodels."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ondo.evals import human
from ondo.evals.human.agreement import cohen_kappa, fleiss_kappa, human_human_agreement, judge_human_agreement

sk_metrics = pytest.importorskip("sklearn.metrics")
inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # statsmodels divides 0/0 on one-label data


@pytest.fixture(scope="module")
def pandalm(shared_data: Path) -> Path:
    return shared_data / "human_pairwise" / "pandalm_testset-v1.json"


def _raw(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_kappas_on_pandalm_equal_reference_packages(pandalm: Path) -> None:
    raw = _raw(pandalm)
    report = human.agreement_from_file(pandalm)
    assert report["items"] == 999 and report["annotators"] == ["annotator1", "annotator2", "annotator3"]
    for a, b in combinations(["annotator1", "annotator2", "annotator3"], 2):
        ref = sk_metrics.cohen_kappa_score([r[a] for r in raw], [r[b] for r in raw])
        assert report["cohen_kappa"][f"{a}|{b}"] == pytest.approx(ref, abs=1e-12)
    table, _ = inter_rater.aggregate_raters([[r["annotator1"], r["annotator2"], r["annotator3"]] for r in raw])
    assert report["fleiss_kappa"] == pytest.approx(inter_rater.fleiss_kappa(table, method="fleiss"), abs=1e-12)
    assert report["fleiss_items"] == 999


def test_agreement_with_and_without_ties_by_hand(pandalm: Path) -> None:
    raw = _raw(pandalm)
    anns = ["annotator1", "annotator2", "annotator3"]
    agree = total = agree_nt = total_nt = 0
    for r in raw:
        for a, b in combinations(anns, 2):
            total += 1
            agree += r[a] == r[b]
            if r[a] != 0 and r[b] != 0:
                total_nt += 1
                agree_nt += r[a] == r[b]
    report = human.agreement_from_file(pandalm)
    assert report["human_human"]["with_ties"] == {"agree": agree, "total": total, "ratio": agree / total}
    assert report["human_human"]["without_ties"] == {"agree": agree_nt, "total": total_nt, "ratio": agree_nt / total_nt}
    # a "judge" that is annotator1's labels: judge-vs-human counts judge x each other human vote
    judge_votes = [human.queues.PANDALM_LABELS[r["annotator1"]] for r in raw]
    rep = human.agreement_from_file(pandalm, judge_votes=judge_votes)
    expect = sum((r["annotator1"] == r[h]) for r in raw for h in anns)
    assert rep["judge_human"]["with_ties"]["agree"] == expect and rep["judge_human"]["with_ties"]["total"] == 3 * 999


def test_bothbad_counts_as_tie_and_ties_drop_out() -> None:
    items = [{"j": "model_a", "h1": "model_a", "h2": "tie"}, {"j": "tie", "h1": "tie (bothbad)", "h2": "model_b"}]
    assert judge_human_agreement(items, "j", ["h1", "h2"], True).to_dict() == {"agree": 2, "total": 4, "ratio": 0.5}
    assert judge_human_agreement(items, "j", ["h1", "h2"], False).to_dict() == {"agree": 1, "total": 1, "ratio": 1.0}
    assert human_human_agreement(items, ["h1", "h2"], True).total == 2


labels = st.sampled_from(["model_a", "model_b", "tie"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(labels, labels, labels), min_size=2, max_size=60))
def test_kappas_match_references_on_random_labels(rows: list[tuple[str, str, str]]) -> None:
    a, b = [r[0] for r in rows], [r[1] for r in rows]
    ours = cohen_kappa(a, b)
    if len(set(a) | set(b)) > 1:
        ref = sk_metrics.cohen_kappa_score(a, b)
        assert ours == pytest.approx(ref, abs=1e-9, nan_ok=True)
    table, _ = inter_rater.aggregate_raters([list(r) for r in rows])
    ref_f = inter_rater.fleiss_kappa(table, method="fleiss")
    ours_f = fleiss_kappa([list(r) for r in rows])
    assert ours_f == pytest.approx(ref_f, abs=1e-9, nan_ok=True)


def test_cli_agreement_on_a_pandalm_queue(pandalm: Path) -> None:
    from ondo.cli.main import app

    runner = CliRunner()
    res = runner.invoke(app, ["human", "queue", "create", "pandalm", "--from-file", str(pandalm), "--json"])
    assert res.exit_code == 0, res.output
    q = json.loads(res.output)
    assert q["items"] == 999 and q["votes"] == 3 * 999 and q["kind"] == "pairwise"
    res = runner.invoke(app, ["human", "agreement", "pandalm", "--json"])
    assert res.exit_code == 0, res.output
    from_queue = json.loads(res.output)
    from_file = human.agreement_from_file(pandalm)
    assert from_queue["cohen_kappa"] == pytest.approx(from_file["cohen_kappa"])
    assert from_queue["fleiss_kappa"] == pytest.approx(from_file["fleiss_kappa"])
    assert from_queue["human_human"] == from_file["human_human"]
    res = runner.invoke(app, ["human", "agreement", "pandalm"])
    assert res.exit_code == 0 and "Fleiss" in res.output and "without ties" in res.output


@pytest.mark.parametrize("rows, where", [
    ([1], "[0]"),
    ([{"instruction": ["q"], "response1": "a", "response2": "b"}], "instruction"),
    ([{"instruction": "q", "response1": "a", "response2": "b", "annotator1": [1]}], "annotator1"),
    ([{"instruction": "q", "input": {"x": 1}, "response1": "a", "response2": "b"}], "input"),
])
def test_cli_malformed_pair_file_is_one_line(tmp_path: Path, rows: list[Any], where: str) -> None:
    from ondo.cli.main import app

    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(rows))
    res = CliRunner().invoke(app, ["human", "agreement", "--file", str(path)])
    assert res.exit_code == 1 and not isinstance(res.exception, TypeError)
    assert "pairs.json[0]" in res.output and where in res.output and "Traceback" not in res.output
