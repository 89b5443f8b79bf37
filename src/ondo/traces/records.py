"""The stored shape of a span: one flat record per traced operation.

Gateway calls and SDK spans both end as a ``SpanRecord``; the writer turns it into a row.
Kept as a slotted dataclass because the gateway builds one per request on its hot path.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

from ondo.errors import InvalidInput

KINDS = ("llm", "retrieval", "tool", "chain")
STATUSES = ("ok", "error")


def new_trace_id() -> str:
    """128-bit hex id (the OpenTelemetry format): 48 bits of milliseconds, then 80 random bits.

    Time first, as in UUIDv7: new rows land at the end of the trace-id index instead of at
    random places in it, which halves the cost of each insert into a large spans table.
    """
    return f"{int(time.time() * 1000) & 0xFFFFFFFFFFFF:012x}{random.getrandbits(80):020x}"


def new_span_id() -> str:
    """64-bit hex id (the OpenTelemetry format, never zero): 16 bits of milliseconds (for index
    locality, as above) and 48 random bits."""
    return f"{int(time.time() * 1000) & 0xFFFF:04x}{random.getrandbits(48) | 1:012x}"


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"unknown span kind '{kind}': use one of {', '.join(KINDS)}", field="kind")
    return kind


try:  # orjson is several times faster; the stdlib is the fallback
    import orjson

    def dumps(obj: Any) -> str:
        if isinstance(obj, str):
            return obj
        try:
            return orjson.dumps(obj, default=_fallback, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            return json.dumps(obj, default=_fallback, ensure_ascii=False)

except ImportError:  # pragma: no cover - orjson ships with the gateway extras

    def dumps(obj: Any) -> str:
        if isinstance(obj, str):
            return obj
        return json.dumps(obj, default=_fallback, ensure_ascii=False)


def _fallback(o: Any) -> Any:
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    if hasattr(o, "__dataclass_fields__"):
        return {k: getattr(o, k) for k in o.__dataclass_fields__}
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    if isinstance(o, bytes):
        return f"<{len(o)} bytes>"
    return repr(o)


# the stored columns, in the order ``SpanRecord.values()`` returns them
COLUMNS = (
    "span_id", "trace_id", "parent_id", "name", "kind", "model", "model_version", "model_alias", "provider",
    "prompt_version", "input_tokens", "output_tokens", "cost_usd", "latency_ms", "ttft_ms", "status", "error",
    "start_time", "end_time", "attributes", "input", "output",
)


@dataclass(slots=True)
class SpanRecord:
    """One finished span. ``input``/``output`` hold the body before redaction (the writer redacts)."""

    trace_id: str
    span_id: str
    name: str
    kind: str
    start_time: float
    parent_id: str | None = None
    end_time: float | None = None
    status: str = "ok"
    error: str | None = None
    model: str | None = None
    model_version: int | None = None
    model_alias: str | None = None
    provider: str | None = None
    prompt_version: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    input: Any = None
    output: Any = None

    def values(self) -> tuple[Any, ...]:
        """The row in ``COLUMNS`` order (the writer's fast path)."""
        return (
            self.span_id,
            self.trace_id,
            self.parent_id,
            self.name[:255],
            self.kind,
            self.model,
            self.model_version,
            self.model_alias,
            self.provider,
            self.prompt_version,
            self.input_tokens,
            self.output_tokens,
            self.cost_usd,
            self.latency_ms,
            self.ttft_ms,
            self.status,
            self.error,
            self.start_time,
            self.end_time,
            dumps(self.attributes) if self.attributes else None,
            None if self.input is None else dumps(self.input),
            None if self.output is None else dumps(self.output),
        )

    def to_row(self) -> dict[str, Any]:
        return dict(zip(COLUMNS, self.values(), strict=True))
