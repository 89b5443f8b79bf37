"""A metric's history, downsampled in SQL so a chart of a long run costs ~1,000 rows, not millions.

The step range is cut into ``max_points - 1`` equal buckets; each bucket contributes its last
point (largest step) together with the bucket's min and max, and the run's very first point
is always kept, so a chart shows where the curve starts, where it ends, and its envelope.
Only the (run, key) slice is touched, through the (run_id, key, step) index: one GROUP BY
pass for the buckets and one index lookup per bucket (a window function over the slice is
several times slower on SQLite).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from ondo.errors import InvalidInput, NotFound
from ondo.store.tables.core import metrics
from ondo.tracking.runs import metric_keys, resolve_run_id
from ondo.tracking.writer import value_of
from ondo.workspace import Workspace


@dataclass(slots=True)
class MetricPoint:
    step: int
    value: float
    timestamp: float
    # range of the bucket this point stands for (the value itself when not downsampled);
    # None when the bucket holds only NaN
    min: float | None = None
    max: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Statements are built once, with bind parameters, so each call only binds values (SQLAlchemy's
# compiled cache) instead of constructing and hashing a new expression tree.
_m = metrics
_p = metrics.alias("p")
_slice = sa.and_(_m.c.run_id == sa.bindparam("rid"), _m.c.key == sa.bindparam("key"))
_cols = (_m.c.step, _m.c.value, _m.c.timestamp, _m.c.flag)
_STATS = sa.select(sa.func.count(), sa.func.min(_m.c.step), sa.func.max(_m.c.step)).where(_slice)
_ALL = sa.select(*_cols).where(_slice).order_by(_m.c.step, _m.c.id)
_FIRST = _ALL.limit(1)
# integer division of non-negative integers: the same bucket on SQLite and PostgreSQL
_bucket = (
    (_m.c.step - sa.bindparam("lo", type_=sa.BigInteger)) * sa.bindparam("buckets", type_=sa.BigInteger)
) // sa.bindparam("span", type_=sa.BigInteger)
# one pass over the (run, key) slice of the index for each bucket's last step and envelope,
# then an index lookup per bucket for the point at that step
_per_bucket = (
    sa.select(
        sa.func.max(_m.c.step).label("last_step"),
        sa.func.min(_m.c.value).label("lo"),
        sa.func.max(_m.c.value).label("hi"),
    )
    .where(_slice)
    .group_by(_bucket)
    .subquery()
)
_BUCKETS = (
    sa.select(_p.c.step, _p.c.value, _p.c.timestamp, _p.c.flag, _per_bucket.c.lo, _per_bucket.c.hi)
    .join(
        _per_bucket,
        sa.and_(
            _p.c.run_id == sa.bindparam("rid"),
            _p.c.key == sa.bindparam("key"),
            _p.c.step == _per_bucket.c.last_step,
        ),
    )
    .order_by(_p.c.step, _p.c.id)
)


def get_metric_history(
    ws: Workspace, run_id: str, key: str, max_points: int | None = 1000
) -> list[MetricPoint]:
    """Points of metric ``key`` of a run ordered by step; at most ``max_points`` (None: all)."""
    if max_points is not None and (not isinstance(max_points, int) or max_points < 2):
        raise InvalidInput(
            f"max_points must be an integer >= 2 or None, got {max_points!r}", field="max_points"
        )
    with ws.read() as conn:
        rid = resolve_run_id(conn, run_id, include_deleted=True)
        binds: dict[str, Any] = {"rid": rid, "key": key}
        n, lo, hi = conn.execute(_STATS, binds).one()
        if not n:
            keys = metric_keys(conn, rid)
            if key not in keys:
                raise NotFound(f"metric of run {rid}", key, keys)
            return []
        if max_points is None or n <= max_points:
            return [_point(r[0], r[1], r[2], r[3], r[1], r[1]) for r in conn.execute(_ALL, binds)]
        binds.update(lo=int(lo), buckets=max_points - 1, span=int(hi) - int(lo) + 1)
        rows = conn.execute(_BUCKETS, binds).all()
        first = conn.execute(_FIRST, binds).one()
    last_at_step = {r[0]: r for r in rows}  # several points at one step: the last logged stands for it
    points = [_point(*r) for r in last_at_step.values()]
    if not points or points[0].step != first[0]:
        points.insert(0, _point(first[0], first[1], first[2], first[3], first[1], first[1]))
    return points


def _point(
    step: int, value: float | None, ts: float, flag: int, lo: float | None, hi: float | None
) -> MetricPoint:
    return MetricPoint(
        step,
        value if flag == 0 and value is not None else value_of(value, flag),
        ts,
        None if lo is None else float(lo),
        None if hi is None else float(hi),
    )
