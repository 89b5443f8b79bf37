"""Named pointers to versions, with an append-only history of every move."""

from ondo.aliases.events import (
    AliasEvent,
    all_for,
    current,
    history,
    move,
    pointer,
    pointers,
    remove,
    rollback,
    undo_stack,
    value_at,
)

__all__ = ["AliasEvent", "all_for", "current", "history", "move", "pointer", "pointers", "remove", "rollback", "undo_stack", "value_at"]
