"""Annotation queues: items people judge, blind, and every vote they cast.

A queue is built from an evaluation run (the MT-Bench answers it judged), from traces (a prompt and
the answer the application gave), from a file of pairs (PandaLM's test set, with its annotators'
labels as votes), or from items given directly. Pairwise items are shown blind: which side each
answer appears on is decided per (item, annotator) by a hash, so it is stable across page loads and
needs no state, and model names are only revealed once the vote is stored. Each vote is stored in
the item's own terms (model_a / model_b / tie / tie (bothbad)) with the annotator's name; a vote on
an item with model names also becomes an arena battle judged by that person.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ondo.errors import Conflict, InvalidInput, NotFound
from ondo.ids import check_name
from ondo.store.tables.judge import human_items, human_queues, human_votes
from ondo.workspace import Workspace

KINDS = ("pairwise", "rating")
CHOICES = ("model_a", "model_b", "tie", "tie (bothbad)")
# what an annotator can click on a blind pair
SIDES = ("left", "right", "tie", "bothbad")
DEFAULT_RUBRIC = ("Rate the response from 1 (unhelpful, wrong or unsafe) to 10 (helpful, correct, complete and "
                  "well written), considering the user's request.")


@dataclass(frozen=True)
class Queue:
    id: str
    name: str
    kind: str
    rubric: str | None
    source: str | None
    created_at: float
    items: int = 0
    votes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "rubric": self.rubric, "source": self.source,
                "created_at": self.created_at, "items": self.items, "votes": self.votes}


@dataclass(frozen=True)
class NewItem:
    prompt: str
    response_a: str
    response_b: str | None = None
    model_a: str | None = None
    model_b: str | None = None
    ref: str | None = None
    meta: dict[str, Any] | None = None
    votes: dict[str, str] = field(default_factory=dict)  # annotator -> choice, for imported labels


@dataclass(frozen=True)
class BlindItem:
    """What an annotator sees: no model names; for pairs, the sides in this annotator's order."""

    item_id: str
    queue: str
    kind: str
    position: int
    prompt: str
    left: str
    right: str | None
    rubric: str | None
    remaining: int

    def to_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "queue": self.queue, "kind": self.kind, "position": self.position,
                "prompt": self.prompt, "left": self.left, "right": self.right, "rubric": self.rubric,
                "remaining": self.remaining}


@dataclass(frozen=True)
class VoteResult:
    item_id: str
    annotator: str
    choice: str | None
    rating: float | None
    left_model: str | None
    right_model: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "annotator": self.annotator, "choice": self.choice, "rating": self.rating,
                "revealed": {"left": self.left_model, "right": self.right_model}}


def swapped(item_id: str, annotator: str) -> bool:
    """Whether this annotator sees response B on the left: a fair coin per (item, annotator)."""
    return hashlib.sha256(f"{item_id}\x00{annotator}".encode()).digest()[0] & 1 == 1


def check_annotator(name: str) -> str:
    """People's names, not identifiers: any printable text up to 255 characters (spaces allowed)."""
    text = str(name or "").strip()
    if not text or len(text) > 255 or any(not ch.isprintable() for ch in text):
        raise InvalidInput(f"annotator must be a name of 1-255 printable characters, got {name!r}", field="annotator")
    return text


def _check_choice(choice: str) -> str:
    if choice not in CHOICES:
        raise InvalidInput(f"unknown choice {choice!r}; expected one of {', '.join(CHOICES)}", field="choice")
    return choice


def create_queue(ws: Workspace, name: str, items: Iterable[NewItem], *, kind: str = "pairwise",
                 rubric: str | None = None, source: str | None = None) -> Queue:
    check_name(name, "queue name")
    if kind not in KINDS:
        raise InvalidInput(f"queue kind must be one of {', '.join(KINDS)}, got {kind!r}", field="kind")
    rows = list(items)
    if not rows:
        raise InvalidInput(f"queue {name} would have no items")
    for i, it in enumerate(rows, 1):
        if kind == "pairwise" and it.response_b is None:
            raise InvalidInput(f"item {i} of a pairwise queue needs two responses", field="response_b")
        for choice in it.votes.values():
            if kind == "pairwise":
                _check_choice(choice)
    qid = uuid.uuid4().hex
    now = time.time()
    if kind == "rating" and rubric is None:
        rubric = DEFAULT_RUBRIC

    def write(conn: sa.Connection) -> None:
        conn.execute(human_queues.insert().values(id=qid, name=name, kind=kind, rubric=rubric, source=source,
                                                  created_at=now))
        item_rows, vote_rows = [], []
        for pos, it in enumerate(rows):
            iid = uuid.uuid4().hex
            item_rows.append({"id": iid, "queue_id": qid, "position": pos, "prompt": it.prompt,
                              "response_a": it.response_a, "response_b": it.response_b, "model_a": it.model_a,
                              "model_b": it.model_b, "ref": it.ref, "meta": it.meta})
            for annotator, choice in it.votes.items():
                vote_rows.append({"queue_id": qid, "item_id": iid, "annotator": annotator,
                                  "choice": choice if kind == "pairwise" else None,
                                  "rating": float(choice) if kind == "rating" else None,
                                  "swapped": False, "comment": "imported", "created_at": now})
        for i in range(0, len(item_rows), 500):
            conn.execute(human_items.insert(), item_rows[i:i + 500])
        for i in range(0, len(vote_rows), 500):
            conn.execute(human_votes.insert(), vote_rows[i:i + 500])

    try:
        ws.write(write)
    except IntegrityError as exc:
        raise Conflict(f"queue {name} already exists") from exc
    return get_queue(ws, name)


def get_queue(ws: Workspace, ident: str) -> Queue:
    with ws.read() as conn:
        row = conn.execute(sa.select(human_queues).where(
            (human_queues.c.name == ident) | (human_queues.c.id == ident))).first()
        if row is None:
            names = [r[0] for r in conn.execute(sa.select(human_queues.c.name))]
            raise NotFound("annotation queue", ident, names)
        n_items = conn.execute(sa.select(sa.func.count()).select_from(human_items)
                               .where(human_items.c.queue_id == row.id)).scalar_one()
        n_votes = conn.execute(sa.select(sa.func.count()).select_from(human_votes)
                               .where(human_votes.c.queue_id == row.id)).scalar_one()
    return Queue(row.id, row.name, row.kind, row.rubric, row.source, row.created_at, n_items, n_votes)


def list_queues(ws: Workspace) -> list[Queue]:
    with ws.read() as conn:
        names = [r[0] for r in conn.execute(sa.select(human_queues.c.name).order_by(human_queues.c.created_at))]
    return [get_queue(ws, n) for n in names]


def next_item(ws: Workspace, queue: str, annotator: str) -> BlindItem | None:
    """The first item this annotator has not voted on, shown blind; None when the queue is done."""
    annotator = check_annotator(annotator)
    q = get_queue(ws, queue)
    voted = sa.select(human_votes.c.item_id).where(human_votes.c.queue_id == q.id,
                                                   human_votes.c.annotator == annotator)
    base = sa.select(human_items).where(human_items.c.queue_id == q.id, human_items.c.id.not_in(voted))
    with ws.read() as conn:
        row = conn.execute(base.order_by(human_items.c.position).limit(1)).first()
        remaining = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    if row is None:
        return None
    return _blind(row, q, annotator, remaining)


def get_item(ws: Workspace, item_id: str, annotator: str) -> BlindItem:
    with ws.read() as conn:
        row = conn.execute(sa.select(human_items).where(human_items.c.id == item_id)).first()
    if row is None:
        raise NotFound("annotation item", item_id)
    q = get_queue(ws, row.queue_id)
    return _blind(row, q, annotator, 0)


def _blind(row: Any, q: Queue, annotator: str, remaining: int) -> BlindItem:
    left, right = row.response_a, row.response_b
    if q.kind == "pairwise" and swapped(row.id, annotator):
        left, right = right, left
    return BlindItem(row.id, q.name, q.kind, row.position, row.prompt, left, right, q.rubric, remaining)


def cast_vote(ws: Workspace, item_id: str, annotator: str, *, side: str | None = None, choice: str | None = None,
              rating: float | None = None, comment: str | None = None) -> VoteResult:
    """Store a vote. A blind pairwise vote gives ``side`` (left / right / tie / bothbad, as shown to this
    annotator); ``choice`` (model_a / model_b / tie / tie (bothbad)) records one in the item's own terms.
    A rating item takes ``rating`` (1-10). Returns the vote with the model names revealed."""
    annotator = check_annotator(annotator)
    with ws.read() as conn:
        row = conn.execute(sa.select(human_items).where(human_items.c.id == item_id)).first()
    if row is None:
        raise NotFound("annotation item", item_id)
    q = get_queue(ws, row.queue_id)
    flip = swapped(row.id, annotator) if q.kind == "pairwise" else False
    if q.kind == "pairwise":
        if side is not None:
            if side not in SIDES:
                raise InvalidInput(f"unknown side {side!r}; expected one of {', '.join(SIDES)}", field="side")
            choice = {"left": "model_b" if flip else "model_a", "right": "model_a" if flip else "model_b",
                      "tie": "tie", "bothbad": "tie (bothbad)"}[side]
        if choice is None:
            raise InvalidInput("a pairwise vote needs a side (left, right, tie, bothbad)", field="side")
        _check_choice(choice)
        rating = None
    else:
        if rating is None:
            raise InvalidInput("a rating vote needs a rating", field="rating")
        rating = float(rating)
        if not 1 <= rating <= 10:
            raise InvalidInput(f"rating must be between 1 and 10, got {rating:g}", field="rating")
        choice = None
    now = time.time()

    def write(conn: sa.Connection) -> None:
        conn.execute(human_votes.insert().values(queue_id=q.id, item_id=row.id, annotator=annotator, choice=choice,
                                                 rating=rating, swapped=flip, comment=comment, created_at=now))

    try:
        ws.write(write)
    except IntegrityError as exc:
        raise Conflict(f"{annotator} has already voted on item {item_id}") from exc
    if q.kind == "pairwise" and row.model_a and row.model_b and row.model_a != row.model_b:
        from ondo.evals.arena.battles import Battle, add_battles

        add_battles(ws, [Battle(model_a=row.model_a, model_b=row.model_b, outcome={
            "model_a": "a", "model_b": "b"}.get(str(choice), str(choice)), prompt=row.prompt, judge=annotator,
            source="human", created_at=now)])
    left_model, right_model = (row.model_b, row.model_a) if flip else (row.model_a, row.model_b)
    return VoteResult(row.id, annotator, choice, rating, left_model, right_model if q.kind == "pairwise" else None)


def export(ws: Workspace, queue: str) -> list[dict[str, Any]]:
    """Every item with its votes (annotator, choice or rating, time), in queue order."""
    q = get_queue(ws, queue)
    with ws.read() as conn:
        items = conn.execute(sa.select(human_items).where(human_items.c.queue_id == q.id)
                             .order_by(human_items.c.position)).all()
        votes = conn.execute(sa.select(human_votes).where(human_votes.c.queue_id == q.id)
                             .order_by(human_votes.c.id)).all()
    by_item: dict[str, list[dict[str, Any]]] = {}
    for v in votes:
        by_item.setdefault(v.item_id, []).append({"annotator": v.annotator, "choice": v.choice, "rating": v.rating,
                                                  "swapped": v.swapped, "comment": v.comment, "time": v.created_at})
    return [{"queue": q.name, "item_id": it.id, "position": it.position, "prompt": it.prompt,
             "response_a": it.response_a, "response_b": it.response_b, "model_a": it.model_a,
             "model_b": it.model_b, "ref": it.ref, "meta": it.meta, "votes": by_item.get(it.id, [])}
            for it in items]


def votes_by_item(ws: Workspace, queue: str) -> list[dict[str, str]]:
    """annotator -> choice for every item of a pairwise queue (the input of the agreement statistics)."""
    return [{v["annotator"]: v["choice"] for v in it["votes"] if v["choice"] is not None}
            for it in export(ws, queue)]


# ---- sources -------------------------------------------------------------------------------------

PANDALM_LABELS = {0: "tie", 1: "model_a", 2: "model_b"}


def read_pandalm(path: str | Path) -> list[NewItem]:
    """PandaLM's human-annotated test set: instruction (+ input), response1 vs response2, and the labels of
    annotator1..3 (0 = tie, 1 = response1 better, 2 = response2 better) kept as votes."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInput("file not found", file=str(p)) from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"invalid JSON: {exc.msg}", file=str(p), line=exc.lineno) from exc
    if not isinstance(data, list):
        raise InvalidInput("expected a JSON list of pairs", file=str(p))
    out = []
    for i, row in enumerate(data):
        where = f"{p}[{i}]"
        if not isinstance(row, dict):
            raise InvalidInput(f"expected a JSON object, got {type(row).__name__}", file=where)
        for key in ("instruction", "response1", "response2", "input"):
            if key not in row:
                if key == "input":
                    continue
                raise InvalidInput("missing field", file=where, field=key)
            if isinstance(row[key], dict | list):
                raise InvalidInput(f"expected text, got a JSON {type(row[key]).__name__}", file=where, field=key)
            if row[key] is not None and not isinstance(row[key], str):  # PandaLM has a bare `false` answer
                row = {**row, key: str(row[key])}
        model_a = model_b = None
        if isinstance(row.get("cmp_key"), str) and "_" in row["cmp_key"]:
            model_a, _, model_b = row["cmp_key"].partition("_")
        votes = {}
        for k in sorted(k for k in row if k.startswith("annotator")):
            if not isinstance(row[k], int) or row[k] not in PANDALM_LABELS:
                raise InvalidInput(f"label {row[k]!r} is not 0, 1 or 2", file=where, field=k)
            votes[k] = PANDALM_LABELS[row[k]]
        prompt = row["instruction"] + (f"\n\n{row['input']}" if row.get("input") else "")
        out.append(NewItem(prompt=prompt, response_a=row["response1"], response_b=row["response2"], model_a=model_a,
                           model_b=model_b, ref=f"pandalm:{row.get('idx', i)}", votes=votes,
                           meta={"motivation_app": row.get("motivation_app")}))
    return out


def queue_from_file(ws: Workspace, name: str, path: str | Path) -> Queue:
    return create_queue(ws, name, read_pandalm(path), kind="pairwise", source=f"file:{Path(path).name}")


def queue_from_run(ws: Workspace, run_id: str, name: str | None = None, *, kind: str | None = None,
                   rubric: str | None = None, limit: int | None = None) -> Queue:
    """Items from an MT-Bench run: every (question, turn) answered by two of its models as a blind pair
    (pairwise runs, or ``kind='pairwise'``), or every answer to rate (single runs)."""
    from itertools import combinations

    from ondo.evals.judge.mtbench import load_suite
    from ondo.evals.judge.runner import load_answers
    from ondo.tracking import get_run

    info = get_run(ws, run_id)
    answers = load_answers(ws, info.id)
    if not answers:
        raise InvalidInput(f"run {run_id} has no judged answers (is it an MT-Bench run?)")
    params = info.params
    suite = load_suite(params.get("suite", "en"))
    kind = kind or ("pairwise" if params.get("mode") == "pairwise" and len(answers) > 1 else "rating")
    models = [m for m in params.get("models", "").split(",") if m in answers] or sorted(answers)
    items: list[NewItem] = []
    qids = sorted({qid for per in answers.values() for qid in per})
    for qid in qids:
        q = suite.question(qid)
        for t in range(len(q.turns)):
            prompt = q.turns[t] if t == 0 else f"{q.turns[0]}\n\n(follow-up) {q.turns[t]}"
            if kind == "pairwise":
                for m1, m2 in combinations(models, 2):
                    items.append(NewItem(prompt, answers[m1][qid][t], answers[m2][qid][t], m1, m2,
                                         ref=f"mt_bench:{qid}:turn{t + 1}", meta={"run_id": info.id}))
            else:
                for m in models:
                    items.append(NewItem(prompt, answers[m][qid][t], None, m, None,
                                         ref=f"mt_bench:{qid}:turn{t + 1}", meta={"run_id": info.id}))
    if limit is not None:
        items = items[:limit]
    return create_queue(ws, name or f"run-{info.id[:8]}", items, kind=kind, rubric=rubric, source=f"run:{info.id}")


def queue_from_traces(ws: Workspace, name: str, *, limit: int = 100, rubric: str | None = None,
                      model: str | None = None, since: str | None = None) -> Queue:
    """Rating items from recorded LLM spans (the prompt a user sent, the answer the application gave)."""
    from ondo.traces.query import list_spans

    items = []
    for sp in list_spans(ws, kind="llm", model=model, since=since, limit=limit, bodies=True):
        prompt, answer = _span_text(sp.input), _span_text(sp.output)
        if not prompt or not answer:
            continue
        items.append(NewItem(prompt=prompt, response_a=answer, model_a=sp.served_by, ref=f"span:{sp.span_id}",
                             meta={"trace_id": sp.trace_id}))
    if not items:
        raise InvalidInput("no LLM spans with both an input and an output to annotate")
    return create_queue(ws, name, items, kind="rating", rubric=rubric, source="traces")


def _span_text(value: Any) -> str:
    """A span's input or output as text: chat messages become their last user / assistant content."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        for key in ("messages", "choices"):
            if key in value:
                return _span_text(value[key])
        for key in ("content", "text", "prompt", "output", "input"):
            if isinstance(value.get(key), str):
                return str(value[key])
        if isinstance(value.get("message"), dict):
            return _span_text(value["message"])
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list) and value:
        last = value[-1]
        if isinstance(last, dict) and "message" in last:
            return _span_text(last["message"])
        return _span_text(last)
    return str(value)


def judge_queue(ws: Workspace, queue: str, judge: Any, *, limit: int | None = None, concurrency: int = 8,
                max_tokens: int = 2048, max_retries: int = 2, constrain: str = "auto") -> int:
    """Let a model judge a pairwise queue with MT-Bench's pair-v2 prompt (both orders, FastChat's swap rule);
    its verdicts are stored as votes of annotator ``judge:<name>``. Returns the number of votes stored."""
    import asyncio

    from ondo.evals.judge.engine import Judge, Limiter
    from ondo.evals.judge.matches import PairMatch
    from ondo.evals.judge.mtbench import Question, load_suite
    from ondo.evals.judge.prompt_set import registered
    from ondo.evals.judge.results import pair_outcomes
    from ondo.evals.judge.runner import load_judge

    q = get_queue(ws, queue)
    if q.kind != "pairwise":
        raise InvalidInput(f"queue {q.name} is a {q.kind} queue; a judge votes on pairwise queues")
    model, judge_name = load_judge(judge, ws, cache=True, concurrency=concurrency)
    annotator = f"judge:{judge_name}"
    items = [it for it in export(ws, q.name) if not any(v["annotator"] == annotator for v in it["votes"])]
    items = items[:limit] if limit is not None else items
    prompt = registered(load_suite("en"), ws).prompts["pair-v2"]
    j = Judge(model, name=judge_name, max_tokens=max_tokens, max_retries=max_retries,
              limiter=Limiter(concurrency), constrain=constrain)
    matches = [PairMatch(Question(i, "general", (it["prompt"],)), "model_a", "model_b", (it["response_a"],),
                         (it["response_b"],), 1, prompt, None) for i, it in enumerate(items)]

    async def run() -> list[Any]:
        out: list[Any] = []
        for pair in await asyncio.gather(*(j.pair(m) for m in matches)):
            out.extend(pair)
        return out

    verdicts = asyncio.run(run())
    outcomes = {o.question_id: o for o in pair_outcomes(verdicts)}
    now = time.time()
    rows = []
    for i, it in enumerate(items):
        o = outcomes[i]
        if o.outcome is None:
            continue  # unparsed: no vote
        choice = {"model_1": "model_a", "model_2": "model_b"}.get(o.outcome, "tie")
        expl = "\n---\n".join(v.judgment for v in verdicts if v.question_id == i)
        rows.append({"queue_id": q.id, "item_id": it["item_id"], "annotator": annotator, "choice": choice,
                     "rating": None, "swapped": False, "comment": expl, "created_at": now})
    if rows:
        ws.write(lambda conn: conn.execute(human_votes.insert(), rows))
    return len(rows)


def agreement(ws: Workspace, queue: str, judge: str | None = None) -> dict[str, Any]:
    """Cohen's and Fleiss' kappa among the people, and judge-vs-human agreement (with and without ties)."""
    from ondo.evals.human.agreement import agreement_report

    q = get_queue(ws, queue)
    if q.kind != "pairwise":
        raise InvalidInput(f"agreement is computed on pairwise queues; {q.name} is a {q.kind} queue")
    items = votes_by_item(ws, q.name)
    if judge is not None and not judge.startswith("judge:") and not any(judge in v for v in items):
        judge = f"judge:{judge}"
    if judge is not None and not any(judge in v for v in items):
        raise NotFound("judge annotator", judge, sorted({a for v in items for a in v}))
    if judge is None:
        judges = sorted({a for v in items for a in v if a.startswith("judge:")})
        judge = judges[0] if judges else None
    report = agreement_report(items, judge)
    report["queue"] = q.name
    return report


def agreement_from_file(path: str | Path, judge_votes: Sequence[str] | None = None) -> dict[str, Any]:
    """The statistics straight from a PandaLM-format file (no store needed)."""
    from ondo.evals.human.agreement import agreement_report

    items = [dict(it.votes) for it in read_pandalm(path)]
    if judge_votes is not None:
        for v, jv in zip(items, judge_votes, strict=True):
            v["judge"] = jv
    report = agreement_report(items, "judge" if judge_votes is not None else None)
    report["file"] = str(path)
    return report
