"""OpenTelemetry (OTLP/HTTP) export of stored spans, with GenAI semantic-convention names.

Active when the ``otel`` extra is installed and ``ONDO_OTLP_ENDPOINT`` is set (for example
``http://127.0.0.1:4318``; ``/v1/traces`` is added when the URL has no path), or OpenTelemetry's
standard ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``. Spans keep ondo's
trace and span ids, so a trace in ``ondo traces show`` and in Jaeger/Tempo is the same trace.
The export runs on the writer thread after the batch is stored, with redacted bodies.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from ondo.traces.records import SpanRecord

log = logging.getLogger("ondo.traces")

# span kind -> gen_ai.operation.name when the span does not say
_OPERATION = {"llm": "chat", "retrieval": "retrieval", "tool": "execute_tool", "chain": "invoke_agent"}


def genai_attributes(rec: SpanRecord) -> dict[str, Any]:
    """Span attributes under the OpenTelemetry GenAI semantic-convention names (plus ``ondo.*``)."""
    attrs: dict[str, Any] = {}
    for key, value in rec.attributes.items():
        if isinstance(value, str | bool | int | float):
            attrs[key] = value
        elif isinstance(value, list | tuple) and all(isinstance(v, str | bool | int | float) for v in value):
            attrs[key] = list(value)
        elif value is not None:
            attrs[key] = str(value)
    attrs.setdefault("gen_ai.operation.name", _OPERATION.get(rec.kind, rec.kind))
    if rec.provider:
        attrs["gen_ai.provider.name"] = rec.provider  # semconv >= 1.37
        attrs["gen_ai.system"] = rec.provider  # its older name, still read by most backends
    if rec.model:
        attrs.setdefault("gen_ai.request.model", rec.model)
        served = f"{rec.model}/{rec.model_version}" if rec.model_version is not None else rec.model
        attrs.setdefault("gen_ai.response.model", served)
    if rec.input_tokens is not None:
        attrs["gen_ai.usage.input_tokens"] = rec.input_tokens
    if rec.output_tokens is not None:
        attrs["gen_ai.usage.output_tokens"] = rec.output_tokens
    if rec.model_version is not None:
        attrs["ondo.model.version"] = rec.model_version
    if rec.model_alias:
        attrs["ondo.model.alias"] = rec.model_alias
    if rec.prompt_version:
        attrs["ondo.prompt.version"] = rec.prompt_version
    if rec.cost_usd is not None:
        attrs["ondo.cost_usd"] = rec.cost_usd
    if rec.ttft_ms is not None:
        attrs["ondo.ttft_ms"] = rec.ttft_ms
    attrs["ondo.span.kind"] = rec.kind
    if rec.error:
        attrs["error.type"] = rec.error.split(":", 1)[0][:128]
    return attrs


class OtlpExporter:
    """Turns ``SpanRecord`` batches into OpenTelemetry spans and hands them to an SDK span exporter."""

    def __init__(self, endpoint: str | None = None, *, span_exporter: Any = None, service_name: str = "ondo") -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        if span_exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            span_exporter = OTLPSpanExporter(endpoint=traces_url(endpoint) if endpoint else None)
        self.span_exporter = span_exporter
        self.resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
        self.scope = InstrumentationScope("ondo")

    def to_otel(self, rec: SpanRecord) -> Any:
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
        from opentelemetry.trace.status import Status, StatusCode

        trace_id = int(rec.trace_id, 16)
        ctx = SpanContext(trace_id, int(rec.span_id, 16), is_remote=False, trace_flags=TraceFlags(1))
        parent = (
            SpanContext(trace_id, int(rec.parent_id, 16), is_remote=False, trace_flags=TraceFlags(1))
            if rec.parent_id
            else None
        )
        status = Status(StatusCode.ERROR, rec.error) if rec.status == "error" else Status(StatusCode.OK)
        end = rec.end_time if rec.end_time is not None else rec.start_time
        return ReadableSpan(
            name=rec.name,
            context=ctx,
            parent=parent,
            resource=self.resource,
            attributes=genai_attributes(rec),
            kind=SpanKind.CLIENT if rec.kind == "llm" else SpanKind.INTERNAL,
            status=status,
            start_time=int(rec.start_time * 1e9),
            end_time=int(end * 1e9),
            instrumentation_scope=self.scope,
        )

    def __call__(self, batch: Sequence[SpanRecord]) -> None:
        self.span_exporter.export([self.to_otel(r) for r in batch])

    def shutdown(self) -> None:
        self.span_exporter.shutdown()


def traces_url(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    if parts.path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


_warned = False


def endpoint_from_env() -> str | None:
    """The OTLP/HTTP traces URL: ``ONDO_OTLP_ENDPOINT``, else OpenTelemetry's own
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as is) or ``OTEL_EXPORTER_OTLP_ENDPOINT``
    (``/v1/traces`` added), so a stack already configured for OpenTelemetry needs nothing more.
    ``OTEL_TRACES_EXPORTER=none`` turns the standard variables off."""
    own = os.environ.get("ONDO_OTLP_ENDPOINT")
    if own:
        return traces_url(own)
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return None
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if base:
        return base.rstrip("/") + "/v1/traces"
    return None


def exporter_from_env() -> OtlpExporter | None:
    """An exporter when an OTLP endpoint is configured (``endpoint_from_env``) and opentelemetry is
    installed, else None."""
    global _warned
    endpoint = endpoint_from_env()
    if not endpoint:
        return None
    try:
        return OtlpExporter(endpoint)
    except ImportError:
        if not _warned:
            _warned = True
            log.warning("an OTLP endpoint is set but opentelemetry is not installed: pip install 'ondo[otel]'")
        return None
