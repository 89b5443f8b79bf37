"""``ondo traces list|show``: spans from the gateway and from instrumented code."""

from __future__ import annotations

import datetime as dt

import typer
from rich.markup import escape
from rich.tree import Tree

from ondo.cli.output import JsonOption, console, print_json, print_table
from ondo.traces.query import SpanView, get_trace, list_spans

app = typer.Typer(help="Traces: gateway calls and SDK spans, with their span trees.", no_args_is_help=True)


def _when(ts: float | None) -> str:
    return "" if ts is None else dt.datetime.fromtimestamp(ts).isoformat(sep=" ", timespec="seconds")


def _ms(v: float | None) -> str:
    return "" if v is None else f"{v:.1f}"


def _tokens(s: SpanView) -> str:
    if s.input_tokens is None and s.output_tokens is None:
        return ""
    return f"{s.input_tokens or 0}/{s.output_tokens or 0}"


def _cost(v: float | None) -> str:
    return "" if v is None else f"{v:.6f}"


@app.command("list")
def list_cmd(
    model: str | None = typer.Option(None, "--model", "-m", help="assistant, assistant/2, assistant@production, openai:gpt-4o-mini"),
    status: str | None = typer.Option(None, "--status", "-s", help="ok or error"),
    since: str | None = typer.Option(None, "--since", help="15m, 2h, 7d, epoch seconds or ISO 8601"),
    name: str | None = typer.Option(None, "--name", help="Span name (e.g. chat, retrieve)."),
    trace_id: str | None = typer.Option(None, "--trace-id", "--trace", help="Only spans of this trace."),
    kind: str | None = typer.Option(None, "--kind", help="llm, retrieval, tool or chain"),
    roots: bool = typer.Option(False, "--roots", help="Only top-level spans (one per trace)."),
    limit: int = typer.Option(50, "--limit", "-n", help="Page size."),
    offset: int = typer.Option(0, "--offset", help="Skip this many (the next page: --offset N*limit)."),
    bodies: bool = typer.Option(False, "--bodies", help="Include the (redacted) input and output."),
    json_out: bool = JsonOption,
) -> None:
    """List spans, newest first."""
    spans = list_spans(
        model=model, status=status, since=since, name=name, trace_id=trace_id, kind=kind, roots=roots,
        limit=limit, offset=offset, bodies=bodies,
    )
    if json_out:
        print_json([s.to_dict(bodies=bodies) for s in spans])
        return
    print_table(
        ["TRACE", "SPAN", "NAME", "KIND", "MODEL", "STATUS", "TOKENS IN/OUT", "COST $", "LATENCY ms", "TTFT ms",
         "START"],
        [
            (s.trace_id[:12], s.span_id[:8], s.name, s.kind, s.served_by or "", s.status, _tokens(s),
             _cost(s.cost_usd), _ms(s.latency_ms), _ms(s.ttft_ms), _when(s.start_time))
            for s in spans
        ],
        title="spans",
    )
    if len(spans) == limit:
        console.print(f"[dim]more: --offset {offset + limit}[/dim]")


def _label(s: SpanView) -> str:
    parts = [f"[bold]{escape(s.name)}[/bold]", f"[dim]{escape(s.kind)}[/dim]"]
    if s.served_by:
        parts.append(escape(s.served_by + (f" (@{s.model_alias})" if s.model_alias else "")))
    if s.prompt_version:
        parts.append(escape(f"prompt {s.prompt_version}"))
    if s.latency_ms is not None:
        parts.append(f"{s.latency_ms:.1f} ms")
    if s.ttft_ms is not None:
        parts.append(f"ttft {s.ttft_ms:.1f} ms")
    if s.input_tokens is not None or s.output_tokens is not None:
        parts.append(f"tokens {s.input_tokens or 0}/{s.output_tokens or 0}")
    if s.cost_usd:
        parts.append(f"${s.cost_usd:.6f}")
    parts.append("[green]ok[/green]" if s.status == "ok" else f"[red]error: {escape(s.error or '')}[/red]")
    return "  ".join(parts)


@app.command("show")
def show_cmd(
    trace_id: str = typer.Argument(..., help="Trace id (or a unique prefix of one)."),
    json_out: bool = JsonOption,
) -> None:
    """Show one trace as its span tree."""
    roots = get_trace(None, trace_id)
    if json_out:
        print_json({"trace_id": roots[0].trace_id, "spans": [r.to_dict(tree=True) for r in roots]})
        return
    tree = Tree(f"trace {roots[0].trace_id}")

    def add(node: Tree, span: SpanView) -> None:
        child = node.add(_label(span))
        for c in span.children:
            add(child, c)

    for r in roots:
        add(tree, r)
    console.print(tree)
