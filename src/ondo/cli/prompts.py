"""``ondo prompts ...``: thin shells over ``ondo.prompts``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ondo import prompts
from ondo.cli.output import JsonOption, console, print_json, print_table
from ondo.cli.registry_common import (
    add_registry_commands,
    add_tag_command,
    key_values,
    print_event,
    print_lineage,
)
from ondo.errors import InvalidInput
from ondo.ids import check_alias
from ondo.prompts.files import SPEC_SUFFIXES
from ondo.registry.times import iso

_LITERAL: dict[str, Any] = {"markup": False, "highlight": False, "soft_wrap": True}  # user text, printed as is

app = typer.Typer(help="Prompt registry: versions, aliases, diff, history, rollback.", no_args_is_help=True)


@app.command("register")
def register_cmd(
    name: str = typer.Argument(..., help="Prompt name, e.g. summarize."),
    file: Path | None = typer.Argument(
        None, help="A template (.j2, .jinja, .txt, .md) or a YAML/JSON spec (template or messages)."
    ),
    file_opt: Path | None = typer.Option(None, "--file", "-f", help="Same as FILE."),
    template: str | None = typer.Option(None, "--template", "-t", help="The template text itself, instead of a file."),
    model: str | None = typer.Option(None, "--model", help="The model the prompt is written for."),
    param: list[str] | None = typer.Option(None, "--param", "-p", help="Model param KEY=VALUE (repeatable)."),
    var: list[str] | None = typer.Option(None, "--var", help="Declared variable (repeatable; default: what the template reads)."),
    tag: list[str] | None = typer.Option(None, "--tag", help="KEY=VALUE (repeatable)."),
    description: str | None = typer.Option(None, "--description"),
    alias: str | None = typer.Option(None, "--alias", help="Also point this alias at the version."),
    reason: str | None = typer.Option(None, "--reason", "-m", help="Reason recorded with --alias."),
    json_out: bool = JsonOption,
) -> None:
    """Register a prompt version from a file; identical content returns the existing version."""
    path = file or file_opt
    if (path is None) == (template is None):
        raise InvalidInput("give the prompt once: a FILE (or --file) or --template TEXT", field="template")
    if alias is not None:
        check_alias(alias)  # before registering: a bad --alias must leave nothing behind
    spec: dict[str, Any] = prompts.load_file(path) if path is not None else {"template": template}
    if model is not None:
        spec["model"] = model
    if param:
        spec["params"] = {**(spec.get("params") or {}), **key_values(param, "param")}
    if var:
        spec["variables"] = list(var)
    if tag:
        spec["tags"] = {**(spec.get("tags") or {}), **{k: str(v) for k, v in key_values(tag, "tag").items()}}
    if description is not None:
        spec["description"] = description
    before = {v.version for v in prompts.list(name)} if _exists(name) else set()
    try:
        p = prompts.register(name, **spec)
    except InvalidInput as exc:
        raise _located(exc, name, path) from None
    new = p.version not in before
    event = prompts.set_alias(name, alias, p.version, reason=reason) if alias else None
    if json_out:
        print_json({**p.to_dict(), "created": new, "alias_event": None if event is None else event.to_dict()})
        return
    console.print(f"{'registered' if new else 'unchanged, already'} {p.ref}  {p.digest}", soft_wrap=True)
    if event is not None:
        print_event(event, False)


def _located(exc: InvalidInput, name: str, path: Path | None) -> InvalidInput:
    """Point a mistake in a prompt read from ``path`` at that file rather than at 'prompt NAME'.

    A template file's lines are the template's lines; in a YAML/JSON spec the template is one value, so its
    line number is kept in the message instead.
    """
    if path is None or exc.file != f"prompt {name}":
        return exc
    where = exc.file + (f":{exc.line}" if exc.line is not None else "")
    where += f" field '{exc.field}'" if exc.field is not None else ""
    if not exc.message.startswith(where + ": "):
        return exc
    message = exc.message[len(where) + 2:]
    if path.suffix.lower() in SPEC_SUFFIXES:
        if exc.line is not None:
            message += f" (line {exc.line} of the template)"
        return InvalidInput(message, file=str(path), field=exc.field)
    return InvalidInput(message, file=str(path), line=exc.line, field=exc.field)


def _exists(name: str) -> bool:
    return any(s.name == name for s in prompts.list())


@app.command("list")
def list_cmd(
    name: str | None = typer.Argument(None, help="List the versions of this prompt."),
    json_out: bool = JsonOption,
) -> None:
    """List prompts, or the versions of one."""
    if name is None:
        items = prompts.list()
        if json_out:
            print_json([s.to_dict() for s in items])
            return
        print_table(
            ["NAME", "LATEST", "VERSIONS", "ALIASES", "UPDATED"],
            [(s.name, s.latest, s.versions, " ".join(f"{a}={v}" for a, v in s.aliases.items()), iso(s.updated_at))
             for s in items],
            title="prompts",
        )
        return
    versions = prompts.list(name)
    if json_out:
        print_json([v.to_dict() for v in versions])
        return
    held: dict[int, list[str]] = {}
    for s in prompts.list():
        if s.name == name:
            for a, n in sorted(s.aliases.items()):
                held.setdefault(n, []).append(a)
    print_table(
        ["VERSION", "DIGEST", "KIND", "MODEL", "PARAMS", "VARIABLES", "ALIASES", "CREATED"],
        [(v.version, v.digest[:19], "chat" if v.is_chat else "text", v.model or "", json.dumps(v.params),
          ", ".join(v.variables), " ".join(held.get(v.version, [])), iso(v.created_at)) for v in versions],
        title=name,
    )


@app.command("show")
def show_cmd(ref: str = typer.Argument(..., help="summarize, summarize/2, summarize@production..."),
             json_out: bool = JsonOption) -> None:
    """Show one version: template (or messages), variables, model, params, tags."""
    p = prompts.get(ref, cache=False)
    held = sorted(a for s in prompts.list() if s.name == p.name for a, n in s.aliases.items() if n == p.version)
    if json_out:
        print_json({**p.to_dict(), "aliases": held})
        return
    console.print(f"[bold]{p.ref}[/bold]  {p.digest}" + (f"  ({', '.join(held)})" if held else ""), soft_wrap=True)
    console.print(f"model: {p.model or '-'}   params: {json.dumps(p.params)}   variables: {', '.join(p.variables) or '-'}",
                  **_LITERAL)
    if p.tags:
        console.print("tags: " + ", ".join(f"{k}={v}" for k, v in p.tags.items()), **_LITERAL)
    if p.description:
        console.print(f"description: {p.description}", **_LITERAL)
    console.rule()
    if p.messages is not None:
        for m in p.messages:
            console.print(f"[bold]{m['role']}[/bold]:", markup=True)
            console.print(m["content"], **_LITERAL)
    else:
        console.print(p.template or "", **_LITERAL)


@app.command("render")
def render_cmd(
    ref: str = typer.Argument(..., help="The prompt to render."),
    var: list[str] | None = typer.Option(None, "--var", help="KEY=VALUE (repeatable; JSON values are parsed)."),
    json_out: bool = JsonOption,
) -> None:
    """Render a prompt with variables (a missing variable is an error naming all of them)."""
    out = prompts.get(ref, cache=False).render(**key_values(var, "var"))
    if json_out:
        print_json({"ref": ref, "rendered": out})
        return
    if isinstance(out, list):
        for m in out:
            typer.echo(f"[{m['role']}]\n{m['content']}")
    else:
        typer.echo(out)


@app.command("diff")
def diff_cmd(
    a: str = typer.Argument(..., help="e.g. summarize/1"),
    b: str = typer.Argument(..., help="e.g. summarize/2"),
    json_out: bool = JsonOption,
) -> None:
    """Unified diff of the template and the params (model, variables) of two versions."""
    d = prompts.diff(a, b)
    if json_out:
        print_json(d.to_dict())
        return
    typer.echo(d.text if d.text else f"{d.a} and {d.b} are identical", nl=not d.text)


add_registry_commands(
    app, prompts, noun="Prompt",
    alias_doc="Point an alias at a version, or --remove it.",
    promote_doc="Move an alias to a prompt version if the runs that used it meet every --require.",
    promote_ref_help="The version to promote, e.g. summarize/2.",
    check_ref_help="The prompt version to check.",
    require_help="e.g. 'rouge1>=0.3' (repeatable).",
    order=("alias", "promote", "check", "history", "rollback"),
)


@app.command("lineage")
def lineage_cmd(
    ref: str = typer.Argument(..., help="A prompt version: summarize/2, summarize@production, summarize."),
    json_out: bool = JsonOption,
) -> None:
    """Runs that used this prompt version (with their datasets and metrics) and the aliases that held it."""
    print_lineage(prompts.lineage(ref), json_out)


add_tag_command(app, prompts, noun="prompt", get=lambda ref: prompts.get(ref, cache=False))
