"""``ondo data``: add, list, show, diff, checkout, verify, alias and history of dataset versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer
from rich.markup import escape

from ondo import data
from ondo.cli.output import JsonOption, console, print_json, print_table

app = typer.Typer(help="Versioned datasets: content-addressed files and rows, diffs, profiles.", no_args_is_help=True)


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@app.command("add")
def add_cmd(
    path: str = typer.Argument(..., help="A file or a folder."),
    name: str = typer.Option(..., "--name", "-n", help="Dataset name, e.g. qa-train."),
    message: str | None = typer.Option(None, "--message", "-m", help="What changed in this version."),
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help="Skip malformed rows (counted in the profile)."),
    as_json: bool = JsonOption,
) -> None:
    """Add PATH as the next version of a dataset (unchanged content returns the existing version)."""
    v = data.add(path, name=name, message=message, skip_bad_rows=skip_bad_rows)
    out = {**v.to_dict(), "created": v.created}
    if as_json:
        print_json(out)
        return
    verb = "added" if v.created else "unchanged:"
    extra = f", {v.bad_rows} bad rows skipped" if v.bad_rows else ""
    console.print(f"{verb} {v.ref} {v.digest[:19]} ({v.file_count} files, {v.row_count} rows, {_size(v.size)}{extra})",
                  markup=False)


@app.command("list")
def list_cmd(as_json: bool = JsonOption) -> None:
    """List datasets with their latest version and aliases."""
    infos = data.list()
    if as_json:
        print_json([i.to_dict() for i in infos])
        return
    print_table(
        ["name", "latest", "versions", "aliases", "updated"],
        [
            (i.name, f"v{i.latest_version}", i.versions,
             ", ".join(f"{a}->v{v}" for a, v in sorted(i.aliases.items())), _when(i.updated_at))
            for i in infos
        ],
    )


@app.command("show")
def show_cmd(
    ref: str = typer.Argument(..., help="qa-train@v3, qa-train@latest, qa-train@prod, qa-train@sha256:..."),
    as_json: bool = JsonOption,
) -> None:
    """Show a version: files, schema and profile (row count, types, nulls, lengths, languages, duplicates)."""
    v = data.get(ref)
    prof = v.profile
    files: list[dict[str, Any]] = [
        {"path": f.path, "size": f.size, "digest": f.digest, "kind": f.kind} | (
            {"format": f.format, "rows": f.row_count, "columns": f.columns} if f.kind == "rows" else {}
        )
        for f in v.files
    ]
    if as_json:
        print_json({**v.to_dict(), "files": files, "profile": prof})
        return
    console.print(f"[bold]{escape(v.ref)}[/bold]  {v.digest}")
    console.print(f"created {_when(v.created_at)} by {v.actor}" + (f": {v.message}" if v.message else ""), markup=False)
    console.print(
        f"{v.file_count} files, {prof['rows']} rows, {_size(v.size)}, duplicate rows {prof['duplicate_rows']}, "
        f"bad rows {prof['bad_rows']}"
    )
    mix = prof["language_mix"]
    console.print(f"language mix: ko {mix['ko']:.1%}  en {mix['en']:.1%}  other {mix['other']:.1%}")
    tl = prof["text_length"]
    if tl.get("count"):
        console.print(f"text length: min {tl['min']}  p50 {tl['p50']:.0f}  p90 {tl['p90']:.0f}  max {tl['max']}")
    print_table(
        ["column", "type", "nulls", "len p50", "len max"],
        [
            (c, s["type"], s["nulls"], s.get("length", {}).get("p50", ""), s.get("length", {}).get("max", ""))
            for c, s in prof["columns"].items()
        ],
        title="columns",
    )
    shown = files[:50]
    print_table(["path", "kind", "rows", "size"], [(f["path"], f["kind"], f.get("rows", ""), _size(f["size"])) for f in shown],
                title="files" + (f" (first 50 of {len(files)})" if len(files) > 50 else ""))


def _print_diff(d: dict[str, Any]) -> None:
    f, r = d["files"], d["rows"]
    console.print(f"[bold]{escape(d['a'])} -> {escape(d['b'])}[/bold]" + (f" (key: {escape(d['key'])})" if d["key"] else ""))
    console.print(
        f"files: +{len(f['added'])} -{len(f['removed'])} ~{len(f['changed'])} ={f['unchanged']}"
    )
    for p in f["added"][:20]:
        console.print(f"  [green]+ {escape(p)}[/green]")
    for p in f["removed"][:20]:
        console.print(f"  [red]- {escape(p)}[/red]")
    for p in f["changed"][:20]:
        console.print(f"  [yellow]~ {escape(p)}[/yellow]")
    console.print(f"rows: +{r['added']} -{r['removed']} ~{r['changed']} ={r['unchanged']}")
    for row in r["samples"]["added"]:
        typer.echo(f"  + {row}")
    for row in r["samples"]["removed"]:
        typer.echo(f"  - {row}")
    for ch in r["samples"]["changed"]:
        typer.echo(f"  ~ {ch['key']}: " + ", ".join(f"{c}: {ch['before'].get(c)!r} -> {ch['after'].get(c)!r}" for c in ch["columns"]))


@app.command("diff")
def diff_cmd(
    a: str = typer.Argument(..., help="The older version, e.g. qa-train@v2."),
    b: str = typer.Argument(..., help="The newer version, e.g. qa-train@v3."),
    key: str | None = typer.Option(None, "--key", "-k", help="Match rows by this column: edits count as changed."),
    as_json: bool = JsonOption,
) -> None:
    """Files and rows added, removed and changed between two versions."""
    d = data.diff(a, b, key=key).to_dict()
    if as_json:
        print_json(d)
    else:
        _print_diff(d)


@app.command("checkout")
def checkout_cmd(
    ref: str = typer.Argument(..., help="The version to materialize."),
    dest: str = typer.Argument(..., help="Destination folder (created if missing)."),
    as_json: bool = JsonOption,
) -> None:
    """Write a version's files into DEST, byte-identical to what was added."""
    v = data.get(ref)
    res = v.checkout(dest)
    out = {"ref": v.ref, "digest": v.digest, "path": res.path, "files": res.files, "bytes": res.bytes}
    if as_json:
        print_json(out)
    else:
        console.print(f"checked out {v.ref} to {res.path} ({res.files} files, {_size(res.bytes)})", markup=False)


@app.command("verify")
def verify_cmd(
    ref: str | None = typer.Argument(None, help="A version or a dataset name; all datasets when omitted."),
    as_json: bool = JsonOption,
) -> None:
    """Re-hash every blob the versions depend on; exit 1 when one is missing or corrupted."""
    report = data.verify(ref)
    if as_json:
        print_json(report.to_dict())
    elif report.ok:
        console.print(f"ok: {len(report.versions)} versions, {report.blobs_checked} blobs re-hashed")
    else:
        print_table(
            ["version", "file", "blob", "role", "status"],
            [(p["ref"], p["path"] or "", p["blob"][:23], p["role"], p["status"]) for p in report.problems],
            title=f"{len(report.problems)} problems in {report.blobs_checked} blobs",
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command("alias")
def alias_cmd(
    name: str = typer.Argument(..., help="Dataset name."),
    alias: str = typer.Argument(..., help="Alias, e.g. prod."),
    version: str = typer.Argument(..., help="Version: 3, v3, latest or another alias."),
    reason: str | None = typer.Option(None, "--reason", "-r", help="Why (kept in the alias history)."),
    as_json: bool = JsonOption,
) -> None:
    """Point NAME@ALIAS at a version; every move is kept in the history."""
    e = data.set_alias(name, alias, version, reason=reason)
    out = {"name": name, "alias": alias, "version": e.to_version, "from_version": e.from_version,
           "actor": e.actor, "reason": e.reason, "created_at": e.created_at}
    if as_json:
        print_json(out)
    else:
        prev = f" (was v{e.from_version})" if e.from_version else ""
        console.print(f"{name}@{alias} -> v{e.to_version}{prev}", markup=False)


@app.command("history")
def history_cmd(name: str = typer.Argument(..., help="Dataset name."), as_json: bool = JsonOption) -> None:
    """Versions of a dataset and every alias move, oldest first."""
    h = data.history(name)
    if as_json:
        print_json(h)
        return
    print_table(
        ["version", "digest", "rows", "files", "size", "created", "by", "message"],
        [(f"v{v['version']}", v["digest"][:19], v["rows"], v["files"], _size(v["size"]), _when(v["created_at"]),
          v["actor"], v["message"] or "") for v in h["versions"]],
        title=name,
    )
    if h["alias_events"]:
        print_table(
            ["when", "alias", "from", "to", "action", "by", "reason"],
            [(_when(e["created_at"]), e["alias"], e["from_version"] or "", e["to_version"] or "", e["action"],
              e["actor"], e["reason"] or "") for e in h["alias_events"]],
            title="alias events",
        )
