"""The batching writer, redaction, and reading spans back (filters, pagination, trees, CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import ondo
from ondo.cli.main import app as cli
from ondo.errors import InvalidInput, NotFound
from ondo.traces import (
    Redactor,
    SpanRecord,
    SpanWriter,
    Tracer,
    configure,
    count_spans,
    flush,
    get_trace,
    list_spans,
    new_span_id,
    new_trace_id,
    parse_since,
    register_secret,
    reset,
    scrub,
)
from ondo.workspace import Workspace


def _record(name: str = "op", **kw: object) -> SpanRecord:
    kw.setdefault("start_time", time.time())
    return SpanRecord(trace_id=new_trace_id(), span_id=new_span_id(), name=name, kind="llm", **kw)  # type: ignore[arg-type]


def test_writer_stores_every_span_from_many_threads(workspace: Workspace) -> None:
    writer = SpanWriter(workspace, batch_size=100, interval_s=0.05)
    per_thread, threads = 2500, 4

    def produce() -> None:
        for i in range(per_thread):
            writer.submit(_record(f"op{i % 3}", input_tokens=i))

    ts = [threading.Thread(target=produce) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert writer.flush(60)
    assert writer.written == per_thread * threads and writer.dropped == 0
    assert count_spans(workspace) == per_thread * threads
    writer.close()


def test_duplicate_span_ids_do_not_lose_the_batch(workspace: Workspace) -> None:
    writer = SpanWriter(workspace, batch_size=10)
    dup = _record("dup")
    for r in [_record("a"), dup, _record("b"), dup, _record("c")]:
        writer.submit(r)
    assert writer.flush(30)
    assert count_spans(workspace) == 4 and writer.dropped == 1
    writer.close()


def test_spans_left_in_the_queue_are_written_at_exit(tmp_path: object) -> None:
    code = (
        "import ondo\n"
        "for i in range(500):\n"
        "    with ondo.span(f's{i}', kind='tool'):\n"
        "        pass\n"
        # no flush: the atexit hook must write them
    )
    env = dict(os.environ)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
    assert count_spans(Workspace.default()) == 500


def test_redaction_of_bodies_before_storing(workspace: Workspace) -> None:
    configure(workspace, redact=["email", "phone"], redact_regex=[r"ACME-\d{4}"])
    try:
        with ondo.span("support", kind="llm") as s:
            s.set_input({"text": "mail kim@example.co.kr or call +82 10-1234-5678, order ACME-1234"})
            s.set_output("reply to jane.doe@mail.example.com at (555) 123-4567")
            s.set_attribute("customer", "bob@example.org")
        assert flush()
    finally:
        reset()
    [span] = list_spans(workspace, bodies=True)
    text = json.dumps([span.input, span.output, span.attributes])
    for leaked in ("kim@example.co.kr", "10-1234-5678", "ACME-1234", "jane.doe@", "123-4567", "bob@example.org"):
        assert leaked not in text
    assert span.input == {"text": "mail [REDACTED_EMAIL] or call [REDACTED_PHONE], order [REDACTED]"}
    assert span.output == "reply to [REDACTED_EMAIL] at [REDACTED_PHONE]"


def test_bodies_can_be_left_out(workspace: Workspace) -> None:
    configure(workspace, capture_bodies=False)
    try:
        with ondo.span("quiet") as s:
            s.set_input("secret question").set_output("secret answer")
        assert flush()
    finally:
        reset()
    [span] = list_spans(workspace, bodies=True)
    assert span.input is None and span.output is None


def test_unknown_redaction_pattern_and_bad_regex() -> None:
    with pytest.raises(InvalidInput, match="email, phone"):
        Redactor(["ssn"])
    with pytest.raises(InvalidInput, match="regex"):
        Redactor(regexes=["(unclosed"])


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    user=st.from_regex(r"[a-z][a-z0-9._]{0,10}[a-z0-9]", fullmatch=True),
    domain=st.from_regex(r"[a-z][a-z0-9]{1,8}", fullmatch=True),
    tld=st.sampled_from(["com", "org", "co.kr", "io"]),
    before=st.text(alphabet="abc XYZ,.;:!?()\n가나다", max_size=20),
    after=st.text(alphabet="abc XYZ,.;:!?()\n가나다", max_size=20),
)
def test_every_email_is_redacted(user: str, domain: str, tld: str, before: str, after: str) -> None:
    email = f"{user}@{domain}.{tld}"
    out = Redactor(["email"])(f"{before} {email} {after}")
    assert out is not None and email not in out and "[REDACTED_EMAIL]" in out


def test_phone_pattern_leaves_ordinary_numbers_alone() -> None:
    r = Redactor(["phone"])
    for phone in ("010-1234-5678", "+82 10 1234 5678", "(555) 123-4567", "555.123.4567", "+1-555-123-4567"):
        assert r(f"call {phone} now") == "call [REDACTED_PHONE] now", phone
    for plain in ("version 3.11.7", "took 1234 ms", "2026-11-27", "id 1234567890123"):
        assert r(plain) == plain


def test_registered_secrets_are_scrubbed_everywhere() -> None:
    register_secret("sk-proj-abcdefghijklmnop")
    assert scrub("Bearer xyzxyzxyzxyz and key sk-proj-abcdefghijklmnop") == (
        "Bearer [REDACTED_SECRET] and key [REDACTED_SECRET]"
    )
    assert Redactor()("the key sk-proj-abcdefghijklmnop leaked") == "the key [REDACTED_SECRET] leaked"


def _populate(ws: Workspace) -> list[SpanRecord]:
    tracer = Tracer(ws)
    now = time.time()
    recs = []
    for i in range(30):
        rec = _record(
            "chat" if i % 2 else "embed",
            start_time=now - 3600 * (i % 3),  # 0, 1 and 2 hours ago
            model="assistant" if i % 3 else "openai:gpt-4o-mini",
            model_version=(i % 2) + 1 if i % 3 else None,
            model_alias="production" if i % 3 else None,
            status="error" if i % 5 == 0 else "ok",
            error="boom" if i % 5 == 0 else None,
        )
        recs.append(rec)
        tracer.record(rec)
    assert tracer.flush()
    return recs


def test_list_filters(workspace: Workspace) -> None:
    recs = _populate(workspace)

    def ids(**kw: object) -> set[str]:
        return {s.span_id for s in list_spans(workspace, limit=100, **kw)}  # type: ignore[arg-type]

    def expect(pred: object) -> set[str]:
        return {r.span_id for r in recs if pred(r)}  # type: ignore[operator]

    assert ids(model="assistant") == expect(lambda r: r.model == "assistant")
    assert ids(model="assistant/2") == expect(lambda r: r.model == "assistant" and r.model_version == 2)
    assert ids(model="assistant@production") == expect(lambda r: r.model_alias == "production")
    assert ids(model="openai:gpt-4o-mini") == expect(lambda r: r.model == "openai:gpt-4o-mini")
    assert ids(status="error") == expect(lambda r: r.status == "error")
    assert ids(name="chat", status="ok") == expect(lambda r: r.name == "chat" and r.status == "ok")
    assert ids(since="90m") == expect(lambda r: r.start_time > time.time() - 5400)
    assert ids(trace_id=recs[4].trace_id) == {recs[4].span_id}
    with pytest.raises(InvalidInput):
        list_spans(workspace, status="weird")
    with pytest.raises(InvalidInput):
        list_spans(workspace, since="yesterday-ish")


def test_pages_cover_everything_once_newest_first(workspace: Workspace) -> None:
    _populate(workspace)
    seen: list[str] = []
    starts: list[float] = []
    for page in range(4):
        batch = list_spans(workspace, limit=8, offset=page * 8)
        seen += [s.span_id for s in batch]
        starts += [s.start_time for s in batch]
    assert len(seen) == len(set(seen)) == 30
    assert starts == sorted(starts, reverse=True)


def test_parse_since() -> None:
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("1.5d", now=0.0) == -129600.0
    assert parse_since(123.5) == 123.5
    assert parse_since("2026-01-01T00:00:00Z") == 1767225600.0
    assert parse_since(None) is None


def test_trace_tree_with_unknown_parent_and_prefix_lookup(workspace: Workspace) -> None:
    trace_id = new_trace_id()
    tracer = Tracer(workspace)
    root = SpanRecord(trace_id, new_span_id(), "root", "chain", time.time(), parent_id="0123456789abcdef")
    child = SpanRecord(trace_id, new_span_id(), "child", "llm", time.time() + 0.001, parent_id=root.span_id)
    tracer.record(child)
    tracer.record(root)
    assert tracer.flush()
    [tree] = get_trace(workspace, trace_id[:12])
    assert tree.name == "root" and [c.name for c in tree.children] == ["child"]
    with pytest.raises(NotFound):
        get_trace(workspace, new_trace_id())


def test_cli_list_and_show(workspace: Workspace) -> None:
    with ondo.span("pipeline") as root, ondo.span("generate", kind="llm") as g:
        g.set_model("assistant", 1, alias="production").set_usage(3, 4)
    assert flush()
    runner = CliRunner()
    out = runner.invoke(cli, ["traces", "list", "--json", "--model", "assistant@production"])
    assert out.exit_code == 0, out.output
    [row] = json.loads(out.output)
    assert row["served_by"] == "assistant/1" and row["parent_id"] == root.span_id
    out = runner.invoke(cli, ["traces", "show", root.trace_id, "--json"])
    tree = json.loads(out.output)
    assert tree["spans"][0]["name"] == "pipeline" and tree["spans"][0]["children"][0]["name"] == "generate"
    table = runner.invoke(cli, ["traces", "show", root.trace_id])
    assert table.exit_code == 0 and "generate" in table.output and "assistant/1" in table.output
    assert runner.invoke(cli, ["traces", "list"]).exit_code == 0
    missing = runner.invoke(cli, ["traces", "show", "f" * 32])
    assert missing.exit_code != 0 and "not found" in missing.output


def test_cli_show_prints_span_names_and_errors_literally(workspace: Workspace) -> None:
    """A span named or failing with rich markup ('[/x]', '[bold]') prints as recorded, not as markup."""
    with pytest.raises(ValueError), ondo.span("[bold]retrieve[/x]") as root:
        raise ValueError("bad key [/missing]")
    assert flush()
    table = CliRunner().invoke(cli, ["traces", "show", root.trace_id])
    assert table.exit_code == 0, table.output
    assert "[bold]retrieve[/x]" in table.output and "[/missing]" in table.output
