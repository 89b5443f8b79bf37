"""Points in time as users type them ("what was in production at T"): epoch seconds or ISO 8601."""

from __future__ import annotations

from datetime import UTC, datetime

from ondo.errors import InvalidInput


def to_epoch(when: float | int | datetime | str) -> float:
    """Epoch seconds for ``when``; an ISO time without a zone is taken as UTC."""
    if isinstance(when, bool):
        raise InvalidInput(f"not a time: {when!r}")
    if isinstance(when, int | float):
        return float(when)
    if isinstance(when, datetime):
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    text = str(when).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"cannot read time '{when}': use ISO 8601 (2026-03-01T12:00:00Z, 2026-03-01) or epoch seconds",
            field="at",
        ) from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def iso(epoch: float | None) -> str | None:
    """ISO 8601 in UTC, to the second, for display."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
