"""``ondo demo``: the main job of ``make run`` (see ondo.demo)."""

from __future__ import annotations

import typer

app = typer.Typer()


@app.command("demo")
def demo(
    skip_judge: bool = typer.Option(False, "--skip-judge", help="Leave out the MT-Bench/arena step (the slowest)."),
) -> None:
    """Run ondo's main loop on the embedded defaults: data, prompts, registry, gateway, evaluation."""
    from ondo.demo import run_demo

    run_demo(steps=lambda name: not (skip_judge and name == "judge"))
