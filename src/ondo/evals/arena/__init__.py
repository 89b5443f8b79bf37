"""Arena: battles between models (from a judge, from people, from files) and the ratings they imply."""

from __future__ import annotations

from typing import Any

from ondo.evals.arena.battles import Battle, add_battles, import_battles, list_battles, read_battle_file
from ondo.evals.arena.ratings import (
    LeaderboardRow,
    Match,
    bootstrap,
    compute_bt,
    compute_elo,
    leaderboard,
)
from ondo.workspace import Workspace

__all__ = [
    "Battle",
    "LeaderboardRow",
    "Match",
    "add_battles",
    "bootstrap",
    "compute_bt",
    "compute_elo",
    "import_battles",
    "leaderboard",
    "list_battles",
    "ratings_for",
    "read_battle_file",
]


def ratings_for(ws: Workspace | None = None, *, system: str = "bt", anchor: tuple[str, float] | None = None,
                rounds: int = 100, seed: int = 42, **filters: Any) -> list[LeaderboardRow]:
    """The leaderboard of the stored battles (optionally filtered by source, judge, models, run_id)."""
    from ondo.errors import InvalidInput, NotFound

    ws = ws or Workspace.default()
    battles = [b.match() for b in list_battles(ws, **filters)]
    if anchor is not None:
        known = {m for b in battles for m in (b.model_a, b.model_b)}
        if anchor[0] not in known:
            raise NotFound("model", anchor[0], known)
    try:
        return leaderboard(battles, system=system, anchor=anchor, rounds=rounds, seed=seed)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
