"""Tracing: spans from the gateway and from application code, stored with extracted columns.

```python
@ondo.trace                                   # every call is a span (sync, async, generators)
def answer(question): ...

with ondo.span("retrieve", kind="retrieval") as s:   # kinds: llm, retrieval, tool, chain
    s.set_output(docs)

ondo.traces.list_spans(model="assistant@production", status="error", since="1h")
ondo.traces.get_trace(None, trace_id)         # the span tree
model = ondo.traces.instrument(ondo.llm.load_model("local:smollm2"))   # llm spans for every call
```
"""

from ondo.traces.models import instrument
from ondo.traces.query import SpanView, count_spans, get_span, get_trace, list_spans, parse_since
from ondo.traces.records import KINDS, SpanRecord, new_span_id, new_trace_id
from ondo.traces.redaction import Redactor, register_secret, scrub
from ondo.traces.spans import Span, current_span, span, trace, traceparent
from ondo.traces.tracer import Tracer, configure, flush, get_tracer, reset
from ondo.traces.writer import SpanWriter

__all__ = [
    "KINDS",
    "Redactor",
    "Span",
    "SpanRecord",
    "SpanView",
    "SpanWriter",
    "Tracer",
    "configure",
    "count_spans",
    "current_span",
    "flush",
    "get_span",
    "get_trace",
    "get_tracer",
    "instrument",
    "list_spans",
    "new_span_id",
    "new_trace_id",
    "parse_since",
    "register_secret",
    "reset",
    "scrub",
    "span",
    "trace",
    "traceparent",
]
