"""search_runs: the filter language, ordering and pagination."""

from __future__ import annotations

import math
import time
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

import ondo
from ondo.client import Client
from ondo.errors import InvalidInput
from ondo.store.tables import core
from ondo.tracking.search import Clause, number_spellings, parse_filter, parse_order_by, search_runs
from ondo.workspace import Workspace


@pytest.fixture
def runs(client: Client) -> dict[str, str]:
    """Five runs in 'sweep' and one elsewhere; returns name -> id."""
    ids: dict[str, str] = {}
    grid = [("r1", "3e-4", 0.45, "nlp"), ("r2", "1e-3", 0.38, "nlp"), ("r3", "3e-4", 0.52, "vision")]
    for name, lr, rouge, team in grid:
        with ondo.start_run(
            experiment="sweep", name=name, params={"lr": float(lr), "opt": "adam"}, tags={"team": team}
        ) as r:
            r.log_metric("rouge_l", rouge, step=1)
            r.log_metric("mmlu.acc", rouge / 2, step=1)
        ids[name] = r.id
    with ondo.start_run(experiment="sweep", name="r4", params={"lr": "3e-4"}) as r:  # no metrics at all
        pass
    ids["r4"] = r.id
    with pytest.raises(RuntimeError), ondo.start_run(experiment="sweep", name="r5", params={"lr": 0.01}) as r:
        r.log_metric("rouge_l", 0.99, step=1)
        raise RuntimeError("boom")
    ids["r5"] = r.id
    with ondo.start_run(experiment="other", name="o1") as r:
        r.log_metric("rouge_l", 0.9, step=1)
    ids["o1"] = r.id
    return ids


def names(page: list[ondo.tracking.RunInfo]) -> list[str]:
    return [r.name or "" for r in page]


def test_metric_filters_and_order(client: Client, runs: dict[str, str]) -> None:
    page = client.search_runs(
        experiment="sweep", filter="metrics.rouge_l > 0.4", order_by=["metrics.rouge_l DESC"]
    )
    assert names(page) == ["r5", "r3", "r1"]
    page = client.search_runs(
        experiment="sweep", filter="metrics.rouge_l <= 0.45", order_by=["metrics.rouge_l"]
    )
    assert names(page) == ["r2", "r1"]
    # dotted metric keys ("<task>.<metric>") work unquoted and quoted
    assert names(
        client.search_runs(filter="metrics.mmlu.acc >= 0.26", order_by="metrics.`mmlu.acc` DESC")
    ) == ["r3"]
    # runs without the metric sort last, whatever the direction
    assert names(client.search_runs(experiment="sweep", order_by=["metrics.rouge_l ASC"]))[-1] == "r4"
    assert names(client.search_runs(experiment="sweep", order_by=["metrics.rouge_l DESC"]))[-1] == "r4"


def test_param_tag_attribute_filters(client: Client, runs: dict[str, str]) -> None:
    # lr was logged as the float 3e-4 (stored '0.0003') in r1/r3 and as the string '3e-4' in r4
    assert set(names(client.search_runs(filter="params.lr = '3e-4'"))) == {"r1", "r3", "r4"}
    assert set(names(client.search_runs(filter="params.lr = 0.0003"))) == {"r1", "r3", "r4"}
    assert set(names(client.search_runs(filter="params.lr != '3e-4'"))) == {"r2", "r5"}
    assert set(names(client.search_runs(filter="params.lr IN ('1e-3', '0.01')"))) == {"r2", "r5"}
    assert set(names(client.search_runs(filter="tags.team = 'nlp' and params.opt = 'adam'"))) == {"r1", "r2"}
    assert set(names(client.search_runs(filter="tags.team LIKE 'vis%'"))) == {"r3"}
    assert set(names(client.search_runs(filter="tags.team ILIKE 'NLP'"))) == {"r1", "r2"}
    assert set(names(client.search_runs(filter="attributes.status = 'failed'"))) == {"r5"}
    assert set(names(client.search_runs(filter="status = 'finished' AND metrics.rouge_l > 0.8"))) == {"o1"}
    assert set(names(client.search_runs(filter="attributes.experiment = 'other'"))) == {"o1"}
    assert set(names(client.search_runs(filter="attributes.name NOT IN ('r1', 'r2', 'r3', 'r4')"))) == {
        "r5",
        "o1",
    }
    assert names(client.search_runs(experiment=["sweep", "other"], filter="run.name = 'o1'")) == ["o1"]
    start = client.get_run(runs["r3"]).start_time
    assert set(names(client.search_runs(filter=f"attributes.start_time >= {start!r}"))) >= {
        "r3",
        "r4",
        "r5",
        "o1",
    }


def test_order_by_params_and_attributes(client: Client, runs: dict[str, str]) -> None:
    assert names(client.search_runs(experiment="sweep", order_by=["attributes.name DESC"])) == [
        "r5",
        "r4",
        "r3",
        "r2",
        "r1",
    ]
    assert names(client.search_runs(experiment="sweep", order_by=["start_time"]))[0] == "r1"
    ordered = names(client.search_runs(experiment="sweep", order_by=["params.opt", "attributes.name"]))
    assert ordered == ["r1", "r2", "r3", "r4", "r5"]  # r4 and r5 have no 'opt': last


def test_pagination_walks_every_run_once(client: Client, runs: dict[str, str]) -> None:
    seen: list[str] = []
    token = None
    while True:
        page = client.search_runs(order_by=["attributes.name"], page_size=2, page_token=token)
        seen += names(page)
        token = page.next_page_token
        if token is None:
            break
    assert seen == ["o1", "r1", "r2", "r3", "r4", "r5"]
    with pytest.raises(InvalidInput):
        client.search_runs(page_token="not-a-token")
    with pytest.raises(InvalidInput):
        client.search_runs(page_size=0)


@pytest.mark.parametrize(
    "bad",
    [
        "metrics.acc >",
        "metrics.acc > 'high'",
        "acc > 0.4",
        "foo.acc > 1",
        "metrics.acc LIKE '0.%'",
        "params.lr > 1",
        "metrics.a > 1 OR metrics.b > 1",
        "metrics.a > 1 metrics.b > 1",
        "params.lr = ",
        "attributes.colour = 'red'",
        "params.lr IN ('a' 'b')",
        "metrics.a > 1 AND",
        "metrics.a ~ 1",
    ],
)
def test_bad_filters_say_what_is_wrong(bad: str, client: Client) -> None:
    with pytest.raises(InvalidInput) as info:
        client.search_runs(filter=bad)
    assert "filter" in str(info.value)


def test_parse_filter_shapes() -> None:
    assert parse_filter("metrics.rouge_l > 0.4") == [Clause("metric", "rouge_l", ">", 0.4)]
    assert parse_filter("params.lr = '3e-4'") == [Clause("param", "lr", "=", "3e-4")]
    assert parse_filter("tags.x = \"y\" and attributes.status = 'finished'") == [
        Clause("tag", "x", "=", "y"),
        Clause("attribute", "status", "=", "finished"),
    ]
    assert parse_filter("metrics.`my key` >= -1e3 AND params.name = 'it''s'") == [
        Clause("metric", "my key", ">=", -1000.0),
        Clause("param", "name", "=", "it's"),
    ]
    assert parse_filter("") == [] and parse_filter(None) == []
    assert parse_order_by(["metrics.acc DESC", "params.lr"])[0].descending
    with pytest.raises(InvalidInput):
        parse_order_by(["metrics.acc sideways"])


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_spellings_all_denote_the_same_number(x: float) -> None:
    by_repr = number_spellings(repr(x))
    assert str(x) in by_repr
    assert all(float(s) == x for s in by_repr)
    assert set(by_repr) & set(number_spellings(f"{x:.17g}"))
    assert set(by_repr) & set(number_spellings(f"{x:.17e}"))


def test_number_spellings_examples() -> None:
    assert {"3e-4", "0.0003", "3e-04", "3.0e-4", "3E-4"} <= set(number_spellings("0.0003"))
    assert {"0.0003"} <= set(number_spellings("3e-4"))
    assert {"3", "3.0"} <= set(number_spellings("3"))
    assert number_spellings("adam") == ["adam"]


@settings(max_examples=25, deadline=None)
@given(
    values=st.lists(
        st.sampled_from([None, math.nan, -math.inf, 0.1, 0.5, 0.5, 0.9, math.inf]), min_size=0, max_size=12
    ),
    descending=st.booleans(),
    page_size=st.integers(min_value=1, max_value=5),
)
def test_metric_sort_pages_match_a_reference_sort(
    values: list[float | None], descending: bool, page_size: int
) -> None:
    """The index-walking metric sort agrees with a plain sort: values first (ties by name), then the rest."""
    ws = Workspace.default()
    exp = uuid.uuid4().hex
    now = time.time()
    rows = [(uuid.uuid4().hex, f"run-{i:02d}", v) for i, v in enumerate(values)]

    def fill(conn: sa.Connection) -> None:
        conn.execute(core.experiments.insert().values(id=exp, name=exp, created_at=now))
        for rid, name, v in rows:
            conn.execute(
                core.runs.insert().values(
                    id=rid, experiment_id=exp, name=name, status="finished", start_time=now, deleted=False
                )
            )
            if v is not None:
                conn.execute(
                    core.latest_metrics.insert().values(
                        run_id=rid, key="acc", step=0, value=None if math.isnan(v) else v, timestamp=now,
                        flag=1 if math.isnan(v) else 0,
                    )
                )  # fmt: skip

    ws.write(fill)
    ranked = sorted((r for r in rows if r[2] is not None and not math.isnan(r[2])), key=lambda r: r[1])
    ranked.sort(key=lambda r: r[2], reverse=descending)  # type: ignore[arg-type,return-value]
    rest = sorted((r for r in rows if r[2] is None or math.isnan(r[2])), key=lambda r: r[1])
    expected = [name for _, name, _ in ranked + rest]
    got: list[str] = []
    token = None
    while True:
        page = search_runs(
            ws, experiment=exp, order_by=[f"metrics.acc {'DESC' if descending else 'ASC'}", "attributes.name"],
            page_size=page_size, page_token=token,
        )  # fmt: skip
        got += [r.name or "" for r in page]
        token = page.next_page_token
        if token is None:
            break
    assert got == expected
