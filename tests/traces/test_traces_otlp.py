"""OpenTelemetry export: GenAI semantic-convention attributes, ids kept, real OTLP/HTTP on the wire."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

import ondo
from ondo.traces import Tracer, configure, flush, reset
from ondo.traces.otlp import endpoint_from_env, exporter_from_env, traces_url
from ondo.workspace import Workspace

pytest.importorskip("opentelemetry.sdk")


def test_spans_export_with_genai_attributes(workspace: Workspace) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, StatusCode

    from ondo.traces.otlp import OtlpExporter

    memory = InMemorySpanExporter()
    configure(workspace, exporters=[OtlpExporter(span_exporter=memory)], redact=["email"])
    try:
        with ondo.span("agent") as root, ondo.span("chat", kind="llm") as s:
            s.set_model("assistant", 2, alias="production", provider="openai")
            s.set_usage(input_tokens=11, output_tokens=22, cost_usd=0.0003)
            s.set_prompt("summarize/4")
            s.set_attribute("gen_ai.request.temperature", 0.2)
            s.set_input("write to x@y.com")
        with pytest.raises(RuntimeError), ondo.span("broken", kind="tool"):
            raise RuntimeError("nope")
        assert flush()
    finally:
        reset()
    exported = {sp.name: sp for sp in memory.get_finished_spans()}
    chat, agent, broken = exported["chat"], exported["agent"], exported["broken"]
    a = chat.attributes
    assert a["gen_ai.system"] == a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "assistant"
    assert a["gen_ai.response.model"] == "assistant/2"
    assert a["gen_ai.usage.input_tokens"] == 11 and a["gen_ai.usage.output_tokens"] == 22
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.request.temperature"] == 0.2
    assert a["ondo.model.version"] == 2 and a["ondo.prompt.version"] == "summarize/4"
    assert a["ondo.cost_usd"] == pytest.approx(0.0003)
    assert chat.kind == SpanKind.CLIENT and agent.kind == SpanKind.INTERNAL
    assert f"{chat.context.trace_id:032x}" == root.trace_id == f"{agent.context.trace_id:032x}"
    assert f"{chat.context.span_id:016x}" == s.span_id
    assert chat.parent is not None and f"{chat.parent.span_id:016x}" == root.span_id
    assert chat.end_time >= chat.start_time > 0
    assert broken.status.status_code == StatusCode.ERROR and broken.attributes["error.type"] == "RuntimeError"


class _Collector(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        _Collector.bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_otlp_http_export_from_env(workspace: Workspace, collector: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    monkeypatch.setenv("ONDO_OTLP_ENDPOINT", collector)
    tracer = Tracer(workspace)
    assert len(tracer.exporters) == 1
    with ondo.span("generate", kind="llm", tracer=tracer) as s:
        s.set_model("assistant", 1, provider="local").set_usage(5, 6)
    assert tracer.flush()
    tracer.close()
    assert _Collector.bodies, "nothing reached the OTLP endpoint"
    req = ExportTraceServiceRequest()
    req.ParseFromString(_Collector.bodies[0])
    [span] = [sp for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]
    assert span.name == "generate" and span.trace_id.hex() == s.trace_id and span.span_id.hex() == s.span_id
    attrs = {kv.key: kv.value for kv in span.attributes}
    assert attrs["gen_ai.system"].string_value == "local"
    assert attrs["gen_ai.usage.input_tokens"].int_value == 5
    assert attrs["gen_ai.usage.output_tokens"].int_value == 6
    service = {kv.key: kv.value.string_value for rs in req.resource_spans for kv in rs.resource.attributes}
    assert service["service.name"] == "ondo"


def test_no_exporter_without_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ONDO_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(var, raising=False)
    assert exporter_from_env() is None
    assert traces_url("http://h:4318") == "http://h:4318/v1/traces"
    assert traces_url("http://h:4318/custom/path") == "http://h:4318/custom/path"


def test_standard_opentelemetry_endpoint_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ONDO_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert endpoint_from_env() == "http://collector:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://tempo:4318/otlp/v1/traces")
    assert endpoint_from_env() == "http://tempo:4318/otlp/v1/traces"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert endpoint_from_env() is None
    monkeypatch.setenv("ONDO_OTLP_ENDPOINT", "http://mine:4318")  # ondo's own variable wins
    assert endpoint_from_env() == "http://mine:4318/v1/traces"
