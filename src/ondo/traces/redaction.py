"""Redaction of request and response bodies before they are stored or exported.

Users choose built-in patterns (emails, phone numbers) and their own regexes; on top of
that, every credential the process knows (provider API keys, gateway keys) is registered as
a secret and replaced wherever it shows up, so it never reaches a trace, a log or an error.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from re import Pattern

from ondo.errors import InvalidInput

BUILTIN_PATTERNS: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    # +82 10-1234-5678, (555) 123-4567, 555.123.4567, 010 1234 5678, +1-555-123-4567
    "phone": r"(?<![\w+])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)[\s.\-]?|\d{2,4}[\s.\-])\d{3,4}[\s.\-]\d{4}(?!\w)",
}
SECRET_MASK = "[REDACTED_SECRET]"

# Credentials known to this process; scrubbed from everything whatever the redaction settings.
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_secret_re: Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Remember a credential so ``scrub`` and every ``Redactor`` remove it (values under 8 chars are ignored)."""
    global _secret_re
    if not value or len(value) < 8:
        return
    with _secrets_lock:
        if value in _secrets:
            return
        _secrets.add(value)
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_re = re.compile("|".join(re.escape(s) for s in ordered))


def scrub(text: str) -> str:
    """Remove registered credentials and bearer tokens from ``text`` (used on errors and logs)."""
    pattern = _secret_re
    if pattern is not None:
        text = pattern.sub(SECRET_MASK, text)
    return _BEARER.sub("Bearer " + SECRET_MASK, text)


_BEARER = re.compile(r"Bearer\s+[A-Za-z0-9._\-~+/=]{8,}")


class Redactor:
    """Replaces matches of the chosen patterns with ``[REDACTED_<NAME>]``."""

    def __init__(self, patterns: Iterable[str] = (), regexes: Iterable[str | Pattern[str]] = ()) -> None:
        self.patterns = tuple(patterns)
        self._rules: list[tuple[Pattern[str], str]] = []
        for name in self.patterns:
            if name not in BUILTIN_PATTERNS:
                raise InvalidInput(
                    f"unknown redaction pattern '{name}': built-in patterns are {', '.join(BUILTIN_PATTERNS)}; "
                    "pass your own as a regex",
                    field="redact",
                )
            self._rules.append((re.compile(BUILTIN_PATTERNS[name]), f"[REDACTED_{name.upper()}]"))
        self.regexes: tuple[str, ...] = ()
        for rx in regexes:
            try:
                compiled = rx if isinstance(rx, Pattern) else re.compile(rx)
            except re.error as exc:
                raise InvalidInput(f"invalid redaction regex {rx!r}: {exc}", field="redact_regex") from exc
            self.regexes += (compiled.pattern,)
            self._rules.append((compiled, "[REDACTED]"))

    @classmethod
    def from_env(cls) -> Redactor:
        """``ONDO_REDACT=email,phone`` and ``ONDO_REDACT_REGEX`` (several separated by newlines)."""
        names = [p.strip() for p in os.environ.get("ONDO_REDACT", "").split(",") if p.strip()]
        regexes = [r for r in os.environ.get("ONDO_REDACT_REGEX", "").split("\n") if r.strip()]
        return cls(names, regexes)

    @property
    def active(self) -> bool:
        return bool(self._rules)

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        if _secret_re is not None or "Bearer" in text:
            text = scrub(text)
        for pattern, mask in self._rules:
            text = pattern.sub(mask, text)
        return text
