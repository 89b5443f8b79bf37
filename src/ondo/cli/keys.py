"""``ondo keys create|list|revoke``: API keys for the gateway (stored hashed)."""

from __future__ import annotations

import datetime as dt

import typer

from ondo.cli.output import JsonOption, console, print_json, print_table
from ondo.errors import InvalidInput
from ondo.gateway.keys import create_key, list_keys, revoke_key

app = typer.Typer(help="Gateway API keys: scoped to models, with budgets and rate limits.", no_args_is_help=True)


def _when(ts: float | None) -> str:
    return "" if ts is None else dt.datetime.fromtimestamp(ts).isoformat(sep=" ", timespec="seconds")


@app.command("create")
def create_cmd(
    name_arg: str | None = typer.Argument(None, metavar="[NAME]", help="A name for the key (or --name)."),
    name_opt: str | None = typer.Option(None, "--name", help="A name for the key (who or what uses it)."),
    models: str | None = typer.Option(
        None, "--models", "--model", help="Comma-separated models it may call (assistant, assistant@*, openai:*); "
        "default all."
    ),
    budget_usd: float | None = typer.Option(None, "--budget-usd", "--budget", help="Spending limit in US dollars."),
    rpm: int | None = typer.Option(None, "--rpm", "--rate-limit", help="Requests per minute."),
    json_out: bool = JsonOption,
) -> None:
    """Create a key. The secret is printed once; only its hash is stored."""
    if name_arg and name_opt and name_arg != name_opt:
        raise InvalidInput(f"two names given ({name_arg!r} and --name {name_opt!r}); give one", field="name")
    name = name_opt or name_arg
    if not name:
        raise InvalidInput("a key needs a name: ondo keys create NAME (or --name NAME)", field="name")
    created = create_key(
        name=name, models=[m for m in (models or "").split(",") if m.strip()] or None, budget_usd=budget_usd, rpm=rpm
    )
    if json_out:
        print_json(created.to_dict())
        return
    console.print(f"created key [bold]{name}[/bold] ({created.info.id})")
    console.print("store it now, it is not shown again:")
    typer.echo(created.key)


@app.command("list")
def list_cmd(
    all_keys: bool = typer.Option(False, "--all", help="Include revoked keys."),
    json_out: bool = JsonOption,
) -> None:
    """List keys (never their secrets)."""
    keys = list_keys(include_revoked=all_keys)
    if json_out:
        print_json([k.to_dict() for k in keys])
        return
    print_table(
        ["NAME", "KEY", "MODELS", "BUDGET $", "SPENT $", "RPM", "CREATED", "LAST USED", "STATUS"],
        [
            (k.name, f"ondo-sk-{k.prefix}-...", ",".join(k.models or ["*"]),
             "" if k.budget_usd is None else f"{k.budget_usd:.2f}", f"{k.spent_usd:.4f}",
             k.rpm or "", _when(k.created_at), _when(k.last_used_at), "active" if k.active else "revoked")
            for k in keys
        ],
        title="API keys",
    )


@app.command("revoke")
def revoke_cmd(
    key: str = typer.Argument(..., help="The key's name, id, prefix, or the key itself."),
    json_out: bool = JsonOption,
) -> None:
    """Revoke a key: gateways refuse it within a second."""
    info = revoke_key(None, key)
    if json_out:
        print_json(info.to_dict())
        return
    console.print(f"revoked key [bold]{info.name}[/bold] (ondo-sk-{info.prefix}-...)")
