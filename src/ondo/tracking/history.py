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


@dataclass(frozen=True)
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


def get_metric_history(
    ws: Workspace, run_id: str, key: str, max_points: int | None = 1000
) -> list[MetricPoint]:
    """Points of metric ``key`` of a run ordered by step; at most ``max_points`` (None: all)."""
    if max_points is not None and (not isinstance(max_points, int) or max_points < 2):
        raise InvalidInput(
            f"max_points must be an integer >= 2 or None, got {max_points!r}", field="max_points"
        )
    m = metrics
    where = sa.and_(m.c.run_id == sa.bindparam("rid"), m.c.key == key)
    with ws.read() as conn:
        rid = resolve_run_id(conn, run_id, include_deleted=True)
        n, lo, hi = conn.execute(
            sa.select(sa.func.count(), sa.func.min(m.c.step), sa.func.max(m.c.step)).where(where),
            {"rid": rid},
        ).one()
        if not n:
            keys = metric_keys(conn, rid)
            if key not in keys:
                raise NotFound(f"metric of run {rid}", key, keys)
            return []
        cols = (m.c.step, m.c.value, m.c.timestamp, m.c.flag)
        if max_points is None or n <= max_points:
            every = conn.execute(sa.select(*cols).where(where).order_by(m.c.step, m.c.id), {"rid": rid}).all()
            return [_point(r, r.value, r.value, r.flag) for r in every]

        buckets = max_points - 1
        span = int(hi) - int(lo) + 1
        # integer division of non-negative integers: the same bucket on SQLite and PostgreSQL
        bucket = (
            (m.c.step - sa.literal(int(lo), sa.BigInteger)) * sa.literal(buckets, sa.BigInteger)
        ) // sa.literal(span, sa.BigInteger)
        # one pass over the (run, key) slice of the index for each bucket's last step and envelope,
        # then an index lookup per bucket for the point at that step
        per_bucket = (
            sa.select(
                sa.func.max(m.c.step).label("last_step"),
                sa.func.min(m.c.value).label("lo"),
                sa.func.max(m.c.value).label("hi"),
            )
            .where(where)
            .group_by(bucket)
            .subquery()
        )
        p = m.alias("p")
        rows = conn.execute(
            sa.select(p.c.step, p.c.value, p.c.timestamp, p.c.flag, per_bucket.c.lo, per_bucket.c.hi)
            .join(
                per_bucket,
                sa.and_(
                    p.c.run_id == sa.bindparam("rid"), p.c.key == key, p.c.step == per_bucket.c.last_step
                ),
            )
            .order_by(p.c.step, p.c.id),
            {"rid": rid},
        ).all()
        first = conn.execute(
            sa.select(*cols).where(where).order_by(m.c.step, m.c.id).limit(1), {"rid": rid}
        ).one()
    last_at_step = {r.step: r for r in rows}  # several points at one step: the last logged stands for it
    points = [_point(r, r.lo, r.hi, r.flag) for r in last_at_step.values()]
    if not points or points[0].step != first.step:
        points.insert(0, _point(first, first.value, first.value, first.flag))
    return points


def _point(row: Any, lo: float | None, hi: float | None, flag: int) -> MetricPoint:
    return MetricPoint(
        step=int(row.step),
        value=value_of(row.value, flag),
        timestamp=row.timestamp,
        min=None if lo is None else float(lo),
        max=None if hi is None else float(hi),
    )
