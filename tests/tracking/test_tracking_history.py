"""get_metric_history: downsampled in SQL, first and last points kept, envelope per bucket."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ondo
from ondo.client import Client
from ondo.errors import InvalidInput, NotFound


def _log(values: list[float], steps: list[int] | None = None) -> str:
    with ondo.start_run(experiment="h") as run:
        for i, v in enumerate(values):
            run.log_metric("loss", v, step=steps[i] if steps else i)
    return run.id


def test_small_history_is_returned_whole(client: Client) -> None:
    rid = _log([3.0, 2.0, 1.0])
    pts = client.get_metric_history(rid, "loss", max_points=1000)
    assert [(p.step, p.value, p.min, p.max) for p in pts] == [
        (0, 3.0, 3.0, 3.0),
        (1, 2.0, 2.0, 2.0),
        (2, 1.0, 1.0, 1.0),
    ]


def test_downsampling_keeps_ends_and_envelope(client: Client) -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=10_000).tolist()
    rid = _log(values)
    pts = client.get_metric_history(rid, "loss", max_points=1000)
    assert len(pts) <= 1000 and len(pts) >= 990
    assert pts[0].step == 0 and pts[0].value == values[0]
    assert pts[-1].step == 9_999 and pts[-1].value == values[-1]
    steps = [p.step for p in pts]
    assert steps == sorted(set(steps))
    for p in pts:
        assert p.value == values[p.step]  # every returned point is a real point
    # the envelopes together cover the true extremes
    assert min(p.min for p in pts if p.min is not None) == min(values)
    assert max(p.max for p in pts if p.max is not None) == max(values)
    assert client.get_metric_history(rid, "loss", max_points=None)[5000].value == values[5000]


@settings(max_examples=25, deadline=None)
@given(
    steps=st.lists(st.integers(min_value=-50, max_value=10_000), min_size=1, max_size=300),
    max_points=st.integers(min_value=2, max_value=40),
)
def test_never_more_than_max_points(steps: list[int], max_points: int) -> None:
    client = Client()
    values = [float(i) for i in range(len(steps))]
    rid = _log(values, steps)
    pts = client.get_metric_history(rid, "loss", max_points=max_points)
    assert 1 <= len(pts) <= max_points
    assert pts[0].step == min(steps) and pts[-1].step == max(steps)
    if len(steps) <= max_points:
        assert len(pts) == len(steps)


def test_nan_points_survive_downsampling(client: Client) -> None:
    values = [math.nan if i % 7 == 0 else float(i) for i in range(500)]
    rid = _log(values)
    pts = client.get_metric_history(rid, "loss", max_points=50)
    assert math.isnan(pts[0].value)
    assert all(p.max is None or not math.isnan(p.max) for p in pts)


def test_unknown_key_suggests_and_bad_max_points(client: Client) -> None:
    rid = _log([1.0])
    with pytest.raises(NotFound, match="'loss'"):
        client.get_metric_history(rid, "los")
    with pytest.raises(InvalidInput):
        client.get_metric_history(rid, "loss", max_points=1)
