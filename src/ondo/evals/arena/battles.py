"""The battles table: who played whom on which prompt, how it ended, and who judged.

Battles come from three places: the pairwise judge (``source='judge'``, judge = the model version),
people voting (``source='human'``, judge = the annotator) and FastChat battle files
(``source='import'``). Outcomes are stored as ``a`` / ``b`` / ``tie`` / ``tie (bothbad)``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ondo.errors import InvalidInput
from ondo.evals.arena.ratings import Match
from ondo.store.tables.judge import arena_battles
from ondo.workspace import Workspace

OUTCOMES = ("a", "b", "tie", "tie (bothbad)")
SOURCES = ("judge", "human", "import")
_FROM_WINNER = {"model_a": "a", "model_b": "b", "a": "a", "b": "b", "tie": "tie", "tie (bothbad)": "tie (bothbad)",
                "bothbad": "tie (bothbad)", "both bad": "tie (bothbad)"}
_TO_WINNER = {"a": "model_a", "b": "model_b", "tie": "tie", "tie (bothbad)": "tie (bothbad)"}


def normalize_outcome(value: str) -> str:
    """'model_a'/'a'/'A' -> 'a', ..., 'tie (bothbad)' stays; anything else is a mistake."""
    key = str(value).strip()
    out = _FROM_WINNER.get(key) or _FROM_WINNER.get(key.lower())
    if out is None:
        raise InvalidInput(f"unknown outcome {value!r}; expected one of model_a, model_b, tie, tie (bothbad)")
    return out


@dataclass(frozen=True)
class Battle:
    model_a: str
    model_b: str
    outcome: str  # 'a' | 'b' | 'tie' | 'tie (bothbad)'
    prompt: str | None = None
    judge: str | None = None
    source: str = "import"
    run_id: str | None = None
    created_at: float | None = None
    id: int | None = None

    @property
    def winner(self) -> str:
        """FastChat's winner value."""
        return _TO_WINNER[self.outcome]

    def match(self) -> Match:
        return Match(self.model_a, self.model_b, self.winner)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "prompt": self.prompt, "model_a": self.model_a, "model_b": self.model_b,
                "outcome": self.outcome, "winner": self.winner, "judge": self.judge, "source": self.source,
                "run_id": self.run_id, "tstamp": self.created_at}


def add_battles(ws: Workspace, battles: Iterable[Battle]) -> int:
    now = time.time()
    rows = []
    for b in battles:
        if b.outcome not in OUTCOMES:
            raise InvalidInput(f"unknown outcome {b.outcome!r}; expected one of {', '.join(OUTCOMES)}")
        if b.source not in SOURCES:
            raise InvalidInput(f"unknown battle source {b.source!r}; expected one of {', '.join(SOURCES)}")
        if b.model_a == b.model_b:
            raise InvalidInput(f"a battle needs two different models, got {b.model_a!r} twice")
        rows.append({"prompt": b.prompt, "model_a": b.model_a, "model_b": b.model_b, "outcome": b.outcome,
                     "judge": b.judge, "source": b.source, "run_id": b.run_id,
                     "created_at": b.created_at if b.created_at is not None else now})
    if not rows:
        return 0

    def write(conn: sa.Connection) -> None:
        for i in range(0, len(rows), 500):
            conn.execute(arena_battles.insert(), rows[i:i + 500])

    ws.write(write)
    return len(rows)


def read_battle_file(path: str | Path) -> list[Battle]:
    """FastChat battles: JSONL (one battle a line) or a JSON list (clean_battle_*.json), with
    model_a, model_b, winner in model_a / model_b / tie / tie (bothbad); optional tstamp, judge, prompt."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput("file not found", file=str(p))
    text = p.read_text(encoding="utf-8")
    rows: list[tuple[int, Any]] = []
    if text.lstrip().startswith("["):
        try:
            rows = list(enumerate(json.loads(text), 1))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"invalid JSON: {exc.msg}", file=str(p), line=exc.lineno) from exc
    else:
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append((lineno, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"invalid JSON: {exc.msg}", file=str(p), line=lineno) from exc
    out = []
    for lineno, row in rows:
        if not isinstance(row, dict):
            raise InvalidInput("expected a JSON object", file=str(p), line=lineno)
        for key in ("model_a", "model_b", "winner"):
            if not row.get(key):
                raise InvalidInput("missing field", file=str(p), line=lineno, field=key)
        try:
            outcome = normalize_outcome(row["winner"])
        except InvalidInput as exc:
            raise InvalidInput(exc.message, file=str(p), line=lineno, field="winner") from exc
        if row["model_a"] == row["model_b"]:
            raise InvalidInput("model_a and model_b are the same model", file=str(p), line=lineno)
        judge = row.get("judge")
        out.append(Battle(
            model_a=str(row["model_a"]), model_b=str(row["model_b"]), outcome=outcome,
            prompt=_prompt_of(row), judge=str(judge) if judge is not None else None, source="import",
            created_at=float(row["tstamp"]) if isinstance(row.get("tstamp"), int | float) else None,
        ))
    return out


def _prompt_of(row: dict[str, Any]) -> str | None:
    for key in ("prompt", "question"):
        if isinstance(row.get(key), str):
            return str(row[key])
    conv = row.get("conversation_a")
    if isinstance(conv, list) and conv and isinstance(conv[0], dict):
        return str(conv[0].get("content", "")) or None
    if "question_id" in row:
        return f"question {row['question_id']}"
    return None


def import_battles(ws: Workspace, path: str | Path) -> int:
    """Read a FastChat battle file and store every battle; returns how many. All or nothing."""
    return add_battles(ws, read_battle_file(path))


def list_battles(ws: Workspace, *, source: str | None = None, judge: str | None = None,
                 models: Sequence[str] | None = None, run_id: str | None = None) -> list[Battle]:
    """Battles in time order (the order online Elo needs)."""
    q = sa.select(arena_battles).order_by(arena_battles.c.created_at, arena_battles.c.id)
    if source is not None:
        q = q.where(arena_battles.c.source == source)
    if judge is not None:
        q = q.where(arena_battles.c.judge == judge)
    if run_id is not None:
        q = q.where(arena_battles.c.run_id == run_id)
    if models:
        q = q.where(arena_battles.c.model_a.in_(list(models)) & arena_battles.c.model_b.in_(list(models)))
    with ws.read() as conn:
        return [Battle(model_a=r.model_a, model_b=r.model_b, outcome=r.outcome, prompt=r.prompt, judge=r.judge,
                       source=r.source, run_id=r.run_id, created_at=r.created_at, id=r.id)
                for r in conn.execute(q)]
