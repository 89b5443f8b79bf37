"""``ondo arena``: import battles and show the leaderboard they imply."""

from __future__ import annotations

from pathlib import Path

import typer

from ondo.cli.output import JsonOption, print_json, print_table
from ondo.errors import InvalidInput

app = typer.Typer(help="Arena battles and ratings (Elo, Bradley-Terry).", no_args_is_help=True)


@app.command("import")
def import_cmd(path: Path = typer.Argument(..., help="FastChat battles: JSONL or a JSON list"),
               json_out: bool = JsonOption) -> None:
    """Import battles (model_a, model_b, winner in model_a / model_b / tie / tie (bothbad))."""
    from ondo.evals.arena import import_battles
    from ondo.workspace import Workspace

    n = import_battles(Workspace.default(), path)
    if json_out:
        print_json({"imported": n, "file": str(path)})
    else:
        typer.echo(f"imported {n} battles from {path}")


def _anchor(value: str | None) -> tuple[str, float] | None:
    if value is None:
        return None
    model, sep, rating = value.rpartition("=")
    try:
        if not sep or not model:
            raise ValueError
        return model, float(rating)
    except ValueError:
        raise InvalidInput(f"--anchor expects MODEL=RATING (e.g. llama-13b=800), got {value!r}") from None


@app.command("leaderboard")
def leaderboard_cmd(
    system: str = typer.Option("bt", "--system", help="bt (Bradley-Terry MLE) or elo (online Elo)"),
    anchor: str | None = typer.Option(None, "--anchor", help="MODEL=RATING: shift ratings so MODEL has RATING"),
    rounds: int = typer.Option(100, "--rounds", help="bootstrap rounds for the confidence intervals"),
    seed: int = typer.Option(42, "--seed"),
    source: str | None = typer.Option(None, "--source", help="only battles from judge, human or import"),
    judge: str | None = typer.Option(None, "--judge", help="only battles judged by this person or model"),
    json_out: bool = JsonOption,
) -> None:
    """Rating, 95% bootstrap interval, battles and rank (by interval overlap) of every model."""
    from ondo.evals.arena import ratings_for

    if system not in ("bt", "elo"):
        raise InvalidInput(f"--system must be bt or elo, got {system!r}")
    rows = ratings_for(system=system, anchor=_anchor(anchor), rounds=rounds, seed=seed, source=source, judge=judge)
    if json_out:
        print_json([r.to_dict() for r in rows])
        return
    if not rows:
        typer.echo("no battles yet: import some with `ondo arena import FILE`")
        return
    print_table(["rank", "model", "rating", "ci_low", "ci_high", "battles"],
                [(r.rank, r.model, f"{r.rating:.1f}", f"{r.ci_low:.1f}", f"{r.ci_high:.1f}", r.battles) for r in rows],
                title=f"arena leaderboard ({system})")
