"""The alias, promote, check, rollback and history commands that ``ondo models`` and ``ondo prompts`` share.

Both registries keep the same alias events (other kind) and the same gated promotion, so their commands differ
only in the backend module (``ondo.models`` or ``ondo.prompts``) and in help text; each ``add_*`` function below
registers one command on a typer app, and each CLI module calls them in its own order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import typer

from ondo.aliases.events import AliasEvent
from ondo.cli.output import JsonOption, console, print_json, print_table, print_whole
from ondo.errors import GateFailed, InvalidInput
from ondo.registry.times import iso, to_epoch


def key_values(items: Sequence[str] | None, what: str) -> dict[str, Any]:
    """``["temperature=0.2", "stop=[\\"\\\\n\\"]"]`` -> {...}; values are JSON when they parse, else text."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"expected KEY=VALUE, got '{item}'", field=what)
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def event_dict(e: AliasEvent) -> dict[str, Any]:
    return {**e.to_dict(), "time": iso(e.created_at)}


def print_events(events: Sequence[AliasEvent], json_out: bool, title: str) -> None:
    if json_out:
        print_json([event_dict(e) for e in events])
        return
    print_table(
        ["TIME", "ALIAS", "ACTION", "FROM", "TO", "BY", "REASON"],
        [
            (iso(e.created_at), e.alias, e.action + (" (forced)" if (e.details or {}).get("forced") else ""),
             e.from_version, e.to_version, e.actor, e.reason or "")
            for e in events
        ],
        title=title,
    )


def print_event(e: AliasEvent, json_out: bool) -> None:
    if json_out:
        print_json(event_dict(e))
        return
    frm = "nothing" if e.from_version is None else f"{e.from_version}"
    to = "nothing" if e.to_version is None else f"{e.to_version}"
    console.print(f"{e.name}@{e.alias}: {frm} -> {to} ({e.action}{', ' + e.reason if e.reason else ''})",
                  markup=False, highlight=False, soft_wrap=True)


def print_lineage(lin: Any, json_out: bool) -> None:
    """A ``Lineage`` as a tree, or as JSON with ``--json`` (``ondo lineage``, ``ondo models/prompts lineage``)."""
    if json_out:
        print_json(lin.to_dict())
        return
    print_whole(lin.tree())


def split_alias_args(name: str, alias: str | None, version: str | None, version_opt: int | None) -> tuple[str, str, int | None]:
    """``alias summarizer/3 production``, ``alias summarizer production 3`` or ``... --version 3``."""
    if alias is None:
        raise InvalidInput("give the alias: e.g. 'production'", field="alias")
    v: int | None = version_opt
    if version is not None:
        if not version.isdigit():
            raise InvalidInput(f"version must be a number, got '{version}'", field="version")
        if v is not None and v != int(version):
            raise InvalidInput("version given twice with different values", field="version")
        v = int(version)
    return name, alias, v


def history_at(events: Sequence[AliasEvent], name: str, alias: str | None, at: str, lookup: Any) -> list[dict[str, Any]]:
    """What each alias (or one) held at time ``at``."""
    when = to_epoch(at)
    names = [alias] if alias else sorted({e.alias for e in events})
    return [{"name": name, "alias": a, "at": iso(when), "version": lookup(name, a, when)} for a in names]


def print_at(rows: list[dict[str, Any]], json_out: bool) -> None:
    if json_out:
        print_json(rows[0] if len(rows) == 1 else rows)
        return
    print_table(["ALIAS", "AT", "VERSION"], [(r["alias"], r["at"], r["version"] if r["version"] is not None else "(none)") for r in rows])


def run_promote(promote: Any, check: Any, ref: str, alias: str, require: list[str], force: bool,
                reason: str | None, json_out: bool) -> None:
    """The promote command of models and prompts: move, or print each failed requirement and exit 1."""
    try:
        e = promote(ref, alias=alias, require=require, force=force, reason=reason)
    except GateFailed as exc:
        if json_out:
            checks = [c.to_dict() for c in check(ref, require)]
            print_json({"promoted": False, "target": exc.target, "failures": exc.failures, "checks": checks})
        raise
    if json_out:
        print_json({**event_dict(e), "promoted": True})
        return
    print_event(e, False)
    for c in (e.details or {}).get("checks", []):
        console.print(f"  {'ok ' if c['passed'] else 'FAILED (forced)'} {c['message']}", markup=False,
                      highlight=False, soft_wrap=True)


def run_check(check: Any, ref: str, require: list[str], json_out: bool) -> None:
    checks = check(ref, require)
    if json_out:
        print_json([c.to_dict() for c in checks])
    else:
        print_table(["REQUIREMENT", "VALUE", "RUN", "RESULT"],
                    [(str(c.requirement), "" if c.value is None else c.value, (c.run_id or "")[:12],
                      "ok" if c.passed else ("missing" if c.value is None else "failed")) for c in checks])
    if not all(c.passed for c in checks):
        raise typer.Exit(1)


# -- commands: ``backend`` is ondo.models or ondo.prompts, looked up at call time ------------------------
def add_alias_command(app: typer.Typer, backend: ModuleType, *, noun: str, doc: str) -> None:
    """``alias NAME[/N] ALIAS [N] [--version N] [--remove]``."""

    def alias_cmd(
        name: str = typer.Argument(..., help=f"{noun} name, or name/N."),
        alias: str | None = typer.Argument(None, help="Alias, e.g. production."),
        version: str | None = typer.Argument(None, help="Version number (or give name/N, or --version)."),
        version_opt: int | None = typer.Option(None, "--version", "-v"),
        reason: str | None = typer.Option(None, "--reason", "-m", help="Why (recorded in the event)."),
        remove: bool = typer.Option(False, "--remove", help="Remove the alias instead."),
        json_out: bool = JsonOption,
    ) -> None:
        name, alias, v = split_alias_args(name, alias, version, version_opt)
        if remove:
            print_event(backend.remove_alias(name, alias, reason=reason), json_out)
            return
        print_event(backend.set_alias(name, alias, v, reason=reason), json_out)

    alias_cmd.__doc__ = doc
    app.command("alias")(alias_cmd)


def add_promote_command(app: typer.Typer, backend: ModuleType, *, ref_help: str, require_help: str, doc: str) -> None:
    """``promote REF --alias A [--require R ...] [--force --reason WHY]``."""

    def promote_cmd(
        ref: str = typer.Argument(..., help=ref_help),
        alias: str = typer.Option(..., "--alias", "-a", help="The alias to move, e.g. production."),
        require: list[str] | None = typer.Option(None, "--require", "-r", help=require_help),
        force: bool = typer.Option(False, "--force", help="Promote even if requirements fail (needs --reason)."),
        reason: str | None = typer.Option(None, "--reason", "-m", help="Why (recorded in the event)."),
        json_out: bool = JsonOption,
    ) -> None:
        run_promote(backend.promote, backend.check, ref, alias, require or [], force, reason, json_out)

    promote_cmd.__doc__ = doc
    app.command("promote")(promote_cmd)


def add_check_command(app: typer.Typer, backend: ModuleType, *, ref_help: str, require_help: str) -> None:
    """``check REF --require R ...``: a dry run of promote."""

    def check_cmd(
        ref: str = typer.Argument(..., help=ref_help),
        require: list[str] = typer.Option(..., "--require", "-r", help=require_help),
        json_out: bool = JsonOption,
    ) -> None:
        """Evaluate promotion requirements without moving anything; exit 1 if any fails."""
        run_check(backend.check, ref, require, json_out)

    app.command("check")(check_cmd)


def add_rollback_command(app: typer.Typer, backend: ModuleType, *, noun: str) -> None:
    """``rollback NAME [ALIAS] [--alias A]``."""

    def rollback_cmd(
        name: str = typer.Argument(..., help=f"{noun} name (or name@alias)."),
        alias_arg: str | None = typer.Argument(None, metavar="[ALIAS]"),
        alias: str | None = typer.Option(None, "--alias", "-a", help="The alias to roll back, e.g. production."),
        reason: str | None = typer.Option(None, "--reason", "-m"),
        json_out: bool = JsonOption,
    ) -> None:
        """Move an alias back to the version it held before (again: one step further back)."""
        print_event(backend.rollback(name, alias or alias_arg, reason=reason), json_out)

    app.command("rollback")(rollback_cmd)


def add_history_command(app: typer.Typer, backend: ModuleType, *, noun: str) -> None:
    """``history NAME [--alias A] [--at TIME]``."""

    def history_cmd(
        name: str = typer.Argument(..., help=f"{noun} name."),
        alias: str | None = typer.Option(None, "--alias", "-a", help="Only this alias."),
        at: str | None = typer.Option(None, "--at", help="Instead: what the alias(es) held at this time (ISO 8601 or epoch)."),
        json_out: bool = JsonOption,
    ) -> None:
        events = backend.history(name, alias)
        if at is not None:
            base = name.partition("@")[0]
            print_at(history_at(events, base, alias, at, lambda n, a, w: backend.version_at(n, a, w)), json_out)
            return
        print_events(events, json_out, f"{name} alias history")

    history_cmd.__doc__ = (
        f"Every alias move of a {noun.lower()}, oldest first; or, with --at, what was in place at that time."
    )
    app.command("history")(history_cmd)


def add_tag_command(app: typer.Typer, backend: ModuleType, *, noun: str, get: Callable[[str], Any]) -> None:
    """``tag REF KEY=VALUE ... [--delete KEY]``: tags are the one mutable part of a version."""

    def tag_cmd(
        ref: str = typer.Argument(..., help=f"The {noun} version."),
        tags: list[str] | None = typer.Argument(None, help="KEY=VALUE ..."),
        delete: list[str] | None = typer.Option(None, "--delete", help="Remove this tag (repeatable)."),
        json_out: bool = JsonOption,
    ) -> None:
        values = key_values(tags, "tag")  # every KEY=VALUE is read before any is written
        v = get(ref)
        for k, value in values.items():
            backend.set_tag(v.ref, k, str(value))
        for k in delete or ():
            backend.delete_tag(v.ref, k)
        v = get(v.ref)
        if json_out:
            print_json({"ref": v.ref, "tags": v.tags})
            return
        console.print(f"{v.ref}: " + (", ".join(f"{k}={t}" for k, t in v.tags.items()) or "(no tags)"),
                      markup=False, highlight=False, soft_wrap=True)

    tag_cmd.__doc__ = f"Set or delete mutable tags on a {noun} version."
    app.command("tag")(tag_cmd)


def add_registry_commands(
    app: typer.Typer,
    backend: ModuleType,
    *,
    noun: str,
    alias_doc: str,
    promote_doc: str,
    promote_ref_help: str,
    check_ref_help: str,
    require_help: str,
    order: Sequence[str] = ("alias", "promote", "check", "rollback", "history"),
) -> None:
    """Register all five commands on ``app`` in ``order`` (the order ``--help`` lists them in)."""
    adders = {
        "alias": lambda: add_alias_command(app, backend, noun=noun, doc=alias_doc),
        "promote": lambda: add_promote_command(
            app, backend, ref_help=promote_ref_help, require_help=require_help, doc=promote_doc
        ),
        "check": lambda: add_check_command(app, backend, ref_help=check_ref_help, require_help=require_help),
        "rollback": lambda: add_rollback_command(app, backend, noun=noun),
        "history": lambda: add_history_command(app, backend, noun=noun),
    }
    for command in order:
        adders[command]()
