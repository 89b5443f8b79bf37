"""Reading spans back: filtered, paginated lists (newest first) and one trace as a tree."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ondo.errors import InvalidInput, NotFound
from ondo.store.tables.traces import spans
from ondo.workspace import Workspace


@dataclass
class SpanView:
    """A stored span as the API, CLI and server return it."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    model: str | None
    model_version: int | None
    model_alias: str | None
    provider: str | None
    prompt_version: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    latency_ms: float | None
    ttft_ms: float | None
    status: str
    error: str | None
    start_time: float
    end_time: float | None
    attributes: dict[str, Any] = field(default_factory=dict)
    input: Any = None
    output: Any = None
    children: list[SpanView] = field(default_factory=list)

    @property
    def served_by(self) -> str | None:
        """``assistant/2`` for a registry model, the raw model otherwise."""
        if self.model is None:
            return None
        return f"{self.model}/{self.model_version}" if self.model_version is not None else self.model

    def to_dict(self, *, bodies: bool = True, tree: bool = False) -> dict[str, Any]:
        d = asdict(self)
        d.pop("children")
        d["served_by"] = self.served_by
        if not bodies:
            d.pop("input")
            d.pop("output")
        if tree:
            d["children"] = [c.to_dict(bodies=bodies, tree=True) for c in self.children]
        return d


def _body(text: str | None) -> Any:
    if text is None:
        return None
    if text[:1] in ("{", "[", '"'):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _view(row: Any) -> SpanView:
    m = row._mapping
    return SpanView(
        trace_id=m["trace_id"],
        span_id=m["span_id"],
        parent_id=m["parent_id"],
        name=m["name"],
        kind=m["kind"],
        model=m["model"],
        model_version=m["model_version"],
        model_alias=m["model_alias"],
        provider=m["provider"],
        prompt_version=m["prompt_version"],
        input_tokens=m["input_tokens"],
        output_tokens=m["output_tokens"],
        cost_usd=m["cost_usd"],
        latency_ms=m["latency_ms"],
        ttft_ms=m["ttft_ms"],
        status=m["status"],
        error=m["error"],
        start_time=m["start_time"],
        end_time=m["end_time"],
        attributes=json.loads(m["attributes"]) if m["attributes"] else {},
        input=_body(m["input"]) if "input" in m else None,
        output=_body(m["output"]) if "output" in m else None,
    )


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(value: str | float | int | datetime | None, *, now: float | None = None) -> float | None:
    """``since`` as epoch seconds: a number, a datetime, ``"15m"``/``"2h"``/``"7d"`` ago, or ISO 8601."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    m = _DURATION.match(value)
    if m:
        return (now if now is not None else time.time()) - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidInput(
            f"invalid time '{value}': use a duration like 15m, 2h, 7d, epoch seconds, or ISO 8601",
            field="since",
        ) from None


def _model_filter(model: str) -> list[Any]:
    """``assistant`` / ``assistant/2`` / ``assistant@production`` / ``openai:gpt-4o-mini``."""
    if ":" in model and "@sha256:" not in model:
        return [spans.c.model == model]
    from ondo.ids import parse_ref

    ref = parse_ref(model)
    conds: list[Any] = [spans.c.model == ref.name]
    if ref.version is not None:
        conds.append(spans.c.model_version == ref.version)
    if ref.alias is not None:
        conds.append(spans.c.model_alias == ref.alias)
    return conds


def list_spans(
    ws: Workspace | None = None,
    *,
    model: str | None = None,
    status: str | None = None,
    since: str | float | datetime | None = None,
    until: str | float | datetime | None = None,
    name: str | None = None,
    trace_id: str | None = None,
    kind: str | None = None,
    roots: bool = False,
    limit: int = 50,
    offset: int = 0,
    bodies: bool = False,
) -> list[SpanView]:
    """Spans matching every filter given, newest first, ``limit`` per page from ``offset``.

    ``roots=True`` keeps only top-level spans (one per trace).
    """
    ws = ws or Workspace.default()
    if limit < 1:
        raise InvalidInput("limit must be at least 1", field="limit")
    if offset < 0:
        raise InvalidInput("offset cannot be negative", field="offset")
    if status is not None and status not in ("ok", "error"):
        raise InvalidInput(f"invalid status '{status}': use ok or error", field="status")
    cols = [c for c in spans.columns if bodies or c.name not in ("input", "output")]
    q = sa.select(*cols)
    if model:
        q = q.where(*_model_filter(model))
    if status:
        q = q.where(spans.c.status == status)
    t0 = parse_since(since)
    if t0 is not None:
        q = q.where(spans.c.start_time >= t0)
    t1 = parse_since(until)
    if t1 is not None:
        q = q.where(spans.c.start_time < t1)
    if name:
        q = q.where(spans.c.name == name)
    if trace_id:
        q = q.where(spans.c.trace_id == trace_id)
    if kind:
        q = q.where(spans.c.kind == kind)
    if roots:
        q = q.where(spans.c.parent_id.is_(None))
    q = q.order_by(spans.c.start_time.desc(), spans.c.span_id.desc()).limit(limit).offset(offset)
    with ws.read() as conn:
        return [_view(r) for r in conn.execute(q)]


def count_spans(ws: Workspace | None = None, **filters: Any) -> int:
    ws = ws or Workspace.default()
    q = sa.select(sa.func.count()).select_from(spans)
    if filters.get("model"):
        q = q.where(*_model_filter(filters["model"]))
    if filters.get("status"):
        q = q.where(spans.c.status == filters["status"])
    if filters.get("name"):
        q = q.where(spans.c.name == filters["name"])
    if filters.get("trace_id"):
        q = q.where(spans.c.trace_id == filters["trace_id"])
    with ws.read() as conn:
        return int(conn.execute(q).scalar_one())


def get_span(ws: Workspace | None, span_id: str) -> SpanView:
    ws = ws or Workspace.default()
    with ws.read() as conn:
        row = conn.execute(sa.select(spans).where(spans.c.span_id == span_id)).first()
    if row is None:
        raise NotFound("span", span_id)
    return _view(row)


def get_trace(ws: Workspace | None, trace_id: str) -> list[SpanView]:
    """The spans of one trace as a forest: root spans (usually one), each with its ``children``.

    A span whose parent is not stored (e.g. it came from a caller's ``traceparent``) is a root.
    """
    ws = ws or Workspace.default()
    trace_id = trace_id.strip().lower()
    with ws.read() as conn:
        rows = conn.execute(
            sa.select(spans).where(spans.c.trace_id == trace_id).order_by(spans.c.start_time, spans.c.span_id)
        ).all()
        if not rows and len(trace_id) < 32:  # a prefix, as printed in short listings
            rows = conn.execute(
                sa.select(spans)
                .where(spans.c.trace_id.like(trace_id.replace("%", "").replace("_", "") + "%"))
                .order_by(spans.c.start_time, spans.c.span_id)
                .limit(10001)
            ).all()
            if len({r.trace_id for r in rows}) > 1:
                raise InvalidInput(f"trace id prefix '{trace_id}' is ambiguous; give more characters")
    if not rows:
        raise NotFound("trace", trace_id)
    views = [_view(r) for r in rows]
    by_id = {v.span_id: v for v in views}
    roots: list[SpanView] = []
    for v in views:
        parent = by_id.get(v.parent_id) if v.parent_id else None
        if parent is None:
            roots.append(v)
        else:
            parent.children.append(v)
    return roots
