"""``ondo human``: annotation queues, export, and agreement statistics."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import typer

from ondo.cli.output import JsonOption, print_json, print_table
from ondo.errors import InvalidInput

app = typer.Typer(help="Human evaluation: annotation queues, blind votes, agreement.", no_args_is_help=True)
queue_app = typer.Typer(help="Annotation queues: create, list, export.", no_args_is_help=True)
app.add_typer(queue_app, name="queue")


def _ws() -> Any:
    from ondo.workspace import Workspace

    return Workspace.default()


@queue_app.command("create")
def queue_create(
    name: str | None = typer.Argument(None, help="queue name (default: run-<id>, traces-<time> or the file's name)"),
    from_run: str | None = typer.Option(None, "--from-run", "--run", help="an MT-Bench run: its answers become items"),
    from_traces: bool = typer.Option(False, "--from-traces", "--traces", help="recorded LLM spans become rating items"),
    from_file: Path | None = typer.Option(None, "--from-file", "--file",
                                          help="pairs in PandaLM's format (with their labels)"),
    kind: str | None = typer.Option(None, "--kind", help="pairwise or rating (default: from the source)"),
    rubric: str | None = typer.Option(None, "--rubric", help="what raters score against (rating queues)"),
    limit: int | None = typer.Option(None, "--limit", help="at most this many items"),
    model: str | None = typer.Option(None, "--model", help="with --from-traces: only this model's spans"),
    json_out: bool = JsonOption,
) -> None:
    """Create a queue from an evaluation run, from traces, or from a file of pairs."""
    from ondo.evals import human

    sources = sum(x is not None and x is not False for x in (from_run, from_traces or None, from_file))
    if sources != 1:
        raise InvalidInput("give exactly one of --from-run RUN, --from-traces, --from-file FILE")
    ws = _ws()
    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit must be at least 1, got {limit}")
    if from_run is not None:
        q = human.queue_from_run(ws, from_run, name, kind=kind, rubric=rubric, limit=limit)
    elif from_traces:
        name = name or time.strftime("traces-%Y%m%d-%H%M%S", time.gmtime())
        q = human.queue_from_traces(ws, name, limit=limit or 100, rubric=rubric, model=model)
    else:
        assert from_file is not None
        items = human.read_pandalm(from_file)
        name = name or re.sub(r"[^A-Za-z0-9._-]+", "-", from_file.stem).strip("-._") or "pairs"
        q = human.create_queue(ws, name, items[:limit] if limit else items, kind="pairwise",
                               source=f"file:{from_file.name}")
    if json_out:
        print_json(q.to_dict())
    else:
        typer.echo(f"created queue {q.name} ({q.kind}): {q.items} items, {q.votes} votes; vote at /human/{q.name}")


@queue_app.command("list")
def queue_list(json_out: bool = JsonOption) -> None:
    """List annotation queues."""
    from ondo.evals import human

    qs = human.list_queues(_ws())
    if json_out:
        print_json([q.to_dict() for q in qs])
        return
    print_table(["NAME", "KIND", "ITEMS", "VOTES", "SOURCE"], [(q.name, q.kind, q.items, q.votes, q.source) for q in qs],
                title="annotation queues")


@queue_app.command("export")
def queue_export(name: str = typer.Argument(...),
                 out: Path | None = typer.Option(None, "--out", "-o", help="write JSONL here instead of stdout"),
                 json_out: bool = typer.Option(False, "--json", help="one JSON list instead of JSONL")) -> None:
    """Export every item with its votes as JSONL (one item a line, votes with their annotators)."""
    from ondo.evals import human

    rows = human.export(_ws(), name)
    if json_out and out is None:
        print_json(rows)
        return
    text = (json.dumps(rows, ensure_ascii=False, indent=2) + "\n" if json_out
            else "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    if out is not None:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {len(rows)} items to {out}")
    else:
        typer.echo(text, nl=False)


@app.command("vote")
def vote(
    item_id: str = typer.Argument(..., help="the item (from /api/human/queues/Q/next)"),
    annotator: str = typer.Option(..., "--annotator"),
    side: str | None = typer.Option(None, "--side", help="left, right, tie or bothbad, as shown to you"),
    rating: float | None = typer.Option(None, "--rating", help="1-10 for rating queues"),
    comment: str | None = typer.Option(None, "--comment"),
    json_out: bool = JsonOption,
) -> None:
    """Cast one vote (the web page at /human/QUEUE is the usual way)."""
    from ondo.evals import human

    res = human.cast_vote(_ws(), item_id, annotator, side=side, rating=rating, comment=comment)
    if json_out:
        print_json(res.to_dict())
    else:
        typer.echo(f"stored; left was {res.left_model}, right was {res.right_model}")


@app.command("judge")
def judge_cmd(
    queue: str = typer.Argument(...),
    judge: str = typer.Option(..., "--judge", help="model spec of the judge, e.g. local:smollm2"),
    limit: int | None = typer.Option(None, "--limit"),
    max_tokens: int = typer.Option(2048, "--max-tokens", help="judge output budget"),
    concurrency: int = typer.Option(8, "--concurrency"),
) -> None:
    """Let a model vote on a pairwise queue (as annotator judge:<model>), for judge-vs-human agreement."""
    from ondo.evals import human

    n = human.judge_queue(_ws(), queue, judge, limit=limit, max_tokens=max_tokens, concurrency=concurrency)
    typer.echo(f"{n} judge votes stored")


def _pct(rate: dict[str, Any]) -> str:
    r = rate.get("ratio")
    return "" if r is None else f"{100 * r:.1f}% ({rate['agree']}/{rate['total']})"


def _num(v: Any) -> str:
    return "" if v is None else f"{v:.3f}"


@app.command("agreement")
def agreement_cmd(
    queue: str | None = typer.Argument(None, help="a pairwise queue"),
    file: Path | None = typer.Option(None, "--file", help="compute straight from a PandaLM-format file"),
    judge: str | None = typer.Option(None, "--judge", help="the judge annotator (default: the queue's judge:*)"),
    json_out: bool = JsonOption,
) -> None:
    """Cohen's kappa per pair of annotators, Fleiss' kappa, and agreement with and without ties."""
    from ondo.evals import human

    if (queue is None) == (file is None):
        raise InvalidInput("give a queue name or --file FILE")
    report = human.agreement(_ws(), queue, judge) if queue is not None else human.agreement_from_file(file)  # type: ignore[arg-type]
    if json_out:
        print_json(report)
        return
    typer.echo(f"{report['items']} items, annotators: {', '.join(report['annotators'])}")
    rows: list[tuple[str, str]] = [(f"Cohen's kappa {k}", _num(v)) for k, v in report["cohen_kappa"].items()]
    rows += [("mean Cohen's kappa", _num(report["mean_cohen_kappa"])),
             (f"Fleiss' kappa ({report['fleiss_items']} items)", _num(report["fleiss_kappa"])),
             ("human-human agreement, with ties", _pct(report["human_human"]["with_ties"])),
             ("human-human agreement, without ties", _pct(report["human_human"]["without_ties"]))]
    if "judge_human" in report:
        rows += [(f"{report['judge']} vs human, with ties", _pct(report["judge_human"]["with_ties"])),
                 (f"{report['judge']} vs human, without ties", _pct(report["judge_human"]["without_ties"]))]
    print_table(["statistic", "value"], rows, title="agreement")
