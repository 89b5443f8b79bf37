"""Model aliases: events with who/when/from/to/why, history oldest first, time travel, rollback, concurrency."""

from __future__ import annotations

import itertools
import multiprocessing as mp
import time
from pathlib import Path

import pytest

import ondo
from ondo import aliases
from ondo.errors import InvalidInput, NotFound, OndoError
from ondo.workspace import Workspace, reset_default_cache


@pytest.fixture
def three_versions(workspace: Workspace, tmp_path: Path) -> str:
    for i in range(3):
        w = tmp_path / f"m{i}.gguf"
        w.write_bytes(b"GGUF\x03\x00\x00\x00" + bytes([i]) * 16)
        ondo.models.register("summarizer", source=w)
    return "summarizer"


def test_set_alias_records_who_when_from_to_why(three_versions: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONDO_USER", "alice")
    before = time.time()
    e1 = ondo.models.set_alias("summarizer", "production", version=1, reason="first release")
    e2 = ondo.models.set_alias("summarizer/2", "production", reason="better")
    hist = ondo.models.history("summarizer", alias="production")
    assert hist == [e1, e2]
    assert [(e.from_version, e.to_version, e.actor, e.reason, e.action) for e in hist] == [
        (None, 1, "alice", "first release", "set"), (1, 2, "alice", "better", "set")
    ]
    assert before <= hist[0].created_at <= hist[1].created_at <= time.time()
    assert (e2.who, e2.when, e2.version) == ("alice", e2.created_at, 2)
    doc = e2.to_dict()
    assert (doc["who"], doc["when"], doc["from"], doc["to"], doc["reason"]) == ("alice", e2.created_at, 1, 2, "better")
    assert (doc["actor"], doc["from_version"], doc["to_version"]) == ("alice", 1, 2)
    assert ondo.models.get("summarizer@production").version == 2


def test_alias_to_a_missing_version_or_bad_alias_is_refused(three_versions: str) -> None:
    with pytest.raises(NotFound, match="summarizer/7"):
        ondo.models.set_alias("summarizer", "production", version=7)
    with pytest.raises(InvalidInput, match="invalid alias"):
        ondo.models.set_alias("summarizer", "v2", version=1)
    with pytest.raises(InvalidInput, match="pass version"):
        ondo.models.set_alias("summarizer", "production")
    with pytest.raises(NotFound, match="model 'nothing'"):
        ondo.models.history("nothing")
    assert ondo.models.history("summarizer") == []
    for bad in ("bad alias", "v3", "latest"):
        with pytest.raises(InvalidInput, match="invalid alias"):
            ondo.models.history("summarizer", alias=bad)
        with pytest.raises(InvalidInput, match="invalid alias"):
            ondo.models.version_at("summarizer", bad, 0)
    with pytest.raises(InvalidInput, match="expected a model name"):
        ondo.models.history("summarizer/2")


def test_history_answers_what_was_in_production_at_time_t(three_versions: str) -> None:
    ondo.models.set_alias("summarizer", "production", version=1)
    time.sleep(0.01)
    t1 = time.time()
    time.sleep(0.01)
    ondo.models.set_alias("summarizer", "production", version=3)
    ondo.models.set_alias("summarizer", "staging", version=2)
    assert ondo.models.version_at("summarizer", "production", t1) == 1
    assert ondo.models.version_at("summarizer", "production", time.time()) == 3
    assert ondo.models.version_at("summarizer", "production", "1990-01-01T00:00:00Z") is None
    from datetime import UTC, datetime

    assert ondo.models.version_at("summarizer", "production", datetime.fromtimestamp(t1, UTC)) == 1
    with pytest.raises(InvalidInput, match="cannot read time"):
        ondo.models.version_at("summarizer", "production", "yesterday-ish")
    assert [e.alias for e in ondo.models.history("summarizer")] == ["production", "production", "staging"]


def test_rollback_walks_back_one_version_per_call(three_versions: str) -> None:
    for v in (1, 2, 3):
        ondo.models.set_alias("summarizer", "production", version=v)
    first = ondo.models.rollback("summarizer", alias="production")
    assert (first.from_version, first.to_version, first.action) == (3, 2, "rollback")
    second = ondo.models.rollback("summarizer", alias="production", reason="2 is broken too")
    assert (second.from_version, second.to_version, second.reason) == (2, 1, "2 is broken too")
    with pytest.raises(OndoError, match="no earlier version"):
        ondo.models.rollback("summarizer", alias="production")
    assert ondo.models.get("summarizer@production").version == 1
    # a new move after rollbacks: rollback returns to where the alias was before that move
    ondo.models.set_alias("summarizer", "production", version=3)
    assert ondo.models.rollback("summarizer@production").to_version == 1


def test_rollback_restores_a_removed_alias(three_versions: str) -> None:
    ondo.models.set_alias("summarizer", "production", version=2)
    ondo.models.remove_alias("summarizer", "production", reason="incident")
    with pytest.raises(NotFound):
        ondo.models.get("summarizer@production")
    ev = ondo.models.rollback("summarizer", alias="production")
    assert (ev.from_version, ev.to_version) == (None, 2)
    assert ondo.models.get("summarizer@production").version == 2


def test_rollback_without_history_is_a_clear_error(three_versions: str) -> None:
    with pytest.raises(NotFound, match="summarizer@production"):
        ondo.models.rollback("summarizer", alias="production")
    with pytest.raises(InvalidInput, match="which alias"):
        ondo.models.rollback("summarizer")
    with pytest.raises(NotFound, match="model 'ghost'"):
        ondo.models.rollback("ghost", alias="production")


def test_undo_stack_matches_a_model_of_the_semantics() -> None:
    """The rollback stack, checked against a plain list model on a fixed script of moves."""
    script = [("set", 1), ("set", 2), ("set", 2), ("set", 3), ("rollback", None), ("set", 4), ("rollback", None),
              ("rollback", None), ("set", 5)]
    events: list[aliases.AliasEvent] = []
    model: list[int] = []
    for i, (action, v) in enumerate(script):
        if action == "set":
            assert v is not None
            if not model or model[-1] != v:
                model.append(v)
            to = v
        else:
            model.pop()
            to = model[-1]
        events.append(aliases.AliasEvent(i, "model", "m", "p", None, to, "t", None, action, float(i)))
        assert aliases.undo_stack(events) == model
    assert model == [1, 5]


# -- two processes moving one alias at once -------------------------------------------------------------

MOVES = 40


def _mover(worker: int, versions: list[int], start: mp.synchronize.Event) -> None:  # type: ignore[name-defined]
    reset_default_cache()
    start.wait(30)
    for i in range(MOVES):
        ondo.models.set_alias("summarizer", "production", version=versions[i % len(versions)],
                              reason=f"w{worker}-{i}")


def test_two_processes_moving_one_alias_lose_no_update(three_versions: str, workspace: Workspace) -> None:
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_mover, args=(w, vs, start)) for w, vs in ((0, [1, 2]), (1, [3, 2]))]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    events = ondo.models.history("summarizer", alias="production")
    assert len(events) == 2 * MOVES
    for w in (0, 1):  # each process's moves appear, in the order it made them
        assert [e.reason for e in events if e.reason.startswith(f"w{w}-")] == [f"w{w}-{i}" for i in range(MOVES)]
    for prev, ev in itertools.pairwise(events):  # no lost update: each move starts where the last ended
        assert ev.from_version == prev.to_version
        assert ev.id > prev.id and ev.created_at >= prev.created_at
    assert events[0].from_version is None
    assert aliases.current(workspace, "model", "summarizer", "production") == events[-1].to_version
    assert ondo.models.get("summarizer@production").version == events[-1].to_version


def _registrar(worker: int, start: mp.synchronize.Event) -> None:  # type: ignore[name-defined]
    reset_default_cache()
    start.wait(30)
    for i in range(10):
        ondo.prompts.register("shared", template="same content {{ x }}")
        ondo.prompts.register("shared", template=f"w{worker}-{i} {{{{ x }}}}")


def test_two_processes_registering_at_once_get_distinct_numbers(workspace: Workspace) -> None:
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_registrar, args=(w, start)) for w in (0, 1)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    versions = ondo.prompts.list("shared")
    assert [v.version for v in versions] == list(range(1, 22))  # 20 distinct + 1 shared, no gaps, no duplicates
    assert sum(1 for v in versions if v.template == "same content {{ x }}") == 1
