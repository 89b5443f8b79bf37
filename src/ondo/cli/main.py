"""Entry point of the ``ondo`` command.

Sub-commands live in one module per domain (``ondo.cli.<domain>``) and are registered in
``SUBCOMMANDS``. User mistakes (``OndoError``) become a one-line message and a non-zero exit
code here, in one place, so no command prints a traceback for them.
"""

from __future__ import annotations

import importlib
from typing import Any

import click
import typer
from typer.core import TyperGroup

from ondo.errors import OndoError


class UserError(click.ClickException):
    def __init__(self, error: OndoError) -> None:
        super().__init__(error.message)
        self.exit_code = error.exit_code

    def show(self, file: Any = None) -> None:
        click.secho(f"error: {self.message}", err=True, fg="red")


class OndoGroup(TyperGroup):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OndoError as exc:
            # typer >= 0.20 vendors click, so a click.ClickException would escape as a traceback;
            # print the one-line message here and exit through typer's own Exit.
            UserError(exc).show()
            raise typer.Exit(code=exc.exit_code) from exc


app = typer.Typer(
    cls=OndoGroup,
    name="ondo",
    help="ondo (온도): data versioning, tracking, registry, gateway, monitoring and evaluation for LLM apps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# (module under ondo.cli, attribute holding a typer.Typer, command name or None to merge commands at top level)
SUBCOMMANDS: list[tuple[str, str, str | None]] = [
    ("tracking", "experiments_app", "experiments"),
    ("tracking", "runs_app", "runs"),
    ("data", "app", "data"),
    ("prompts", "app", "prompts"),
    ("models", "app", "models"),
    ("models", "lineage_app", None),
    ("eval", "eval_app", "eval"),
    ("arena", "app", "arena"),
    ("human", "app", "human"),
    ("traces", "app", "traces"),
    ("keys", "app", "keys"),
    ("serve", "app", None),
    ("demo", "app", None),
]


def _register() -> None:
    for module, attr, name in SUBCOMMANDS:
        try:
            mod = importlib.import_module(f"ondo.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name == f"ondo.cli.{module}":
                continue  # that domain's commands have not landed yet
            raise
        sub = getattr(mod, attr)
        if name is None:
            for cmd in sub.registered_commands:
                app.registered_commands.append(cmd)
        else:
            app.add_typer(sub, name=name)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
