"""Named pointers to versions, with an append-only history of every move."""

from ondo.aliases.events import AliasEvent, current, history, move, remove, rollback, value_at

__all__ = ["AliasEvent", "current", "history", "move", "remove", "rollback", "value_at"]
