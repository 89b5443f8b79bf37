from __future__ import annotations

import time

import pytest

from ondo import aliases
from ondo.errors import NotFound, OndoError
from ondo.workspace import Workspace


def test_moves_are_recorded_and_pointer_follows(workspace: Workspace) -> None:
    aliases.move(workspace, "model", "summarizer", "production", 1, reason="first")
    aliases.move(workspace, "model", "summarizer", "production", 2, reason="better")
    assert aliases.current(workspace, "model", "summarizer", "production") == 2
    events = aliases.history(workspace, "model", "summarizer", "production")
    assert [(e.from_version, e.to_version, e.reason) for e in events] == [(None, 1, "first"), (1, 2, "better")]


def test_rollback_returns_to_previous_version(workspace: Workspace) -> None:
    aliases.move(workspace, "prompt", "p", "production", 1)
    aliases.move(workspace, "prompt", "p", "production", 3)
    ev = aliases.rollback(workspace, "prompt", "p", "production")
    assert (ev.from_version, ev.to_version, ev.action) == (3, 1, "rollback")
    assert aliases.current(workspace, "prompt", "p", "production") == 1


def test_rollback_without_history_is_a_clear_error(workspace: Workspace) -> None:
    with pytest.raises(NotFound):
        aliases.rollback(workspace, "model", "nope", "production")
    aliases.move(workspace, "model", "m", "production", 1)
    with pytest.raises(OndoError, match="no earlier version"):
        aliases.rollback(workspace, "model", "m", "production")


def test_value_at_answers_what_was_there_at_time_t(workspace: Workspace) -> None:
    aliases.move(workspace, "model", "m", "production", 1)
    t1 = time.time()
    time.sleep(0.01)
    aliases.move(workspace, "model", "m", "production", 2)
    assert aliases.value_at(workspace, "model", "m", "production", t1) == 1
    assert aliases.value_at(workspace, "model", "m", "production", time.time()) == 2
    assert aliases.value_at(workspace, "model", "m", "production", 0) is None


def test_kinds_do_not_mix(workspace: Workspace) -> None:
    aliases.move(workspace, "model", "x", "production", 5)
    assert aliases.current(workspace, "dataset", "x", "production") is None
