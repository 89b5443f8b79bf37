"""Entry point of the ``ondo`` command.

Sub-commands live in one module per domain (``ondo.cli.<domain>``) and are registered in
``SUBCOMMANDS``. User mistakes (``OndoError``) become a one-line message and a non-zero exit
code here, in one place, so no command prints a traceback for them.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from sqlalchemy.exc import DatabaseError
from typer.core import TyperGroup

from ondo.errors import OndoError, StoreError

_CORRUPTION = ("malformed", "not a database", "disk i/o error")


def _report(error: OndoError) -> None:
    typer.secho(f"error: {error.message}", err=True, fg="red")


class OndoGroup(TyperGroup):
    """Turns user mistakes into one line on stderr and a non-zero exit code.

    typer vendors its own click, so the error is printed here and the exit goes through
    ``typer.Exit`` rather than a click exception (which would escape as a traceback).
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except OndoError as exc:
            _report(exc)
            raise typer.Exit(code=exc.exit_code) from exc
        except DatabaseError as exc:
            text = str(exc.orig).lower()
            if not any(marker in text for marker in _CORRUPTION):
                raise
            err = StoreError(f"the store is damaged or unreadable: {exc.orig}")
            _report(err)
            raise typer.Exit(code=err.exit_code) from exc


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
