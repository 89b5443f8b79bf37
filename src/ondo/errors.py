"""User-facing errors.

Every mistake a user can make (a bad id, a malformed row, a failed gate) raises an
``OndoError``: the CLI prints its message and exits non-zero, never a traceback.
Anything else escaping is a bug in ondo.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class OndoError(Exception):
    """Base for errors whose message is meant for the user."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(OndoError):
    """An identifier that names nothing; suggests close matches when there are any."""

    exit_code = 2

    def __init__(self, kind: str, ident: str, candidates: Iterable[str] = ()) -> None:
        self.kind = kind
        self.ident = ident
        self.suggestions = difflib.get_close_matches(ident, list(candidates), n=3, cutoff=0.5)
        msg = f"{kind} '{ident}' not found"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(f"'{s}'" for s in self.suggestions) + "?"
        super().__init__(msg)


class InvalidInput(OndoError):
    """Bad user input, located as precisely as we can (file, line, field)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file, self.line, self.field = file, line, field
        where = ""
        if file is not None:
            where = str(file) + (f":{line}" if line is not None else "")
        if field is not None:
            where = f"{where} field '{field}'" if where else f"field '{field}'"
        super().__init__(f"{where}: {message}" if where else message)


class Conflict(OndoError):
    """The request contradicts recorded state (e.g. re-setting an immutable param)."""


class GateFailed(OndoError):
    """A promotion gate refused: lists every unmet or missing requirement."""

    def __init__(self, target: str, failures: list[str]) -> None:
        self.target = target
        self.failures = failures
        super().__init__(
            f"promotion of {target} refused; unmet requirements:\n" + "\n".join(f"  - {f}" for f in failures)
        )


class StoreError(OndoError):
    """The store cannot be opened or used (unwritable home, corrupt file, unreachable server)."""


class UnsupportedOperation(OndoError):
    """A component asked to do something it cannot (e.g. loglikelihood on a chat-only API)."""
