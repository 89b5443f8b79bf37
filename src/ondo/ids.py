"""The one parser for identifiers users type.

``name``, ``name/3``, ``name@alias``, ``name@v3``, ``name@sha256:ab12...`` name a prompt, a model
or a dataset version. Every domain resolves through ``Ref`` so the grammar and the error
messages are the same everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ondo.errors import InvalidInput

_NAME = r"[A-Za-z0-9][A-Za-z0-9._\-]*(?:/[A-Za-z][A-Za-z0-9._\-]*)*"
_NAME_RE = re.compile(rf"^{_NAME}$")
_ALIAS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._\-]*$")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{4,64}$")
MAX_VERSION = 2**31 - 1  # versions are INTEGER columns (32-bit on PostgreSQL)


@dataclass(frozen=True)
class Ref:
    """A parsed identifier: exactly one of version, alias, digest is set, or none (latest)."""

    name: str
    version: int | None = None
    alias: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        if self.digest is not None:
            return f"{self.name}@{self.digest}"
        return self.name

    @property
    def is_bare(self) -> bool:
        return self.version is None and self.alias is None and self.digest is None


def check_name(name: str, what: str = "name") -> str:
    if not isinstance(name, str):
        raise InvalidInput(f"invalid {what} {name!r}: a name is text such as 'summarizer'")
    if not _NAME_RE.match(name):
        raise InvalidInput(
            f"invalid {what} '{name}': use letters, digits, '.', '_' and '-', starting with a letter or digit"
        )
    return name


def check_alias(alias: str) -> str:
    if not isinstance(alias, str):
        raise InvalidInput(f"invalid alias {alias!r}: an alias is text such as 'production'", field="alias")
    if not _ALIAS_RE.match(alias) or re.fullmatch(r"v\d+", alias) or alias == "latest":
        raise InvalidInput(
            f"invalid alias '{alias}': an alias starts with a letter, uses letters, digits, '.', '_', '-', "
            "and cannot be 'latest' or look like a version ('v3')"
        )
    return alias


def parse_ref(text: object) -> Ref:
    """Parse ``name``, ``name/N``, ``name@alias``, ``name@vN``, ``name@latest`` or ``name@sha256:HEX``.

    ``name@vN`` is the same as ``name/N``; ``name@latest`` is the same as the bare name. A version
    object (anything whose ``.ref`` is such text, e.g. a PromptVersion) stands for its identifier.
    """
    if isinstance(text, Ref):
        return text
    if not isinstance(text, str):
        ref = getattr(text, "ref", None)
        if not isinstance(ref, str):
            raise InvalidInput(
                f"invalid identifier {text!r}: expected text such as name, name/N, name@alias or name@sha256:..."
            )
        text = ref
    raw = text.strip()
    if not raw:
        raise InvalidInput("empty identifier: expected name, name/N, name@alias or name@sha256:...")
    if raw.count("@") > 1:
        raise InvalidInput(f"invalid identifier '{text}': more than one '@'")
    if "@" in raw:
        name, _, selector = raw.partition("@")
        if not name:
            raise InvalidInput(f"invalid identifier '{text}': the name before '@' is missing")
        head, sep, tail = name.rpartition("/")
        if sep and head and tail.isdigit():
            raise InvalidInput(
                f"invalid identifier '{text}': give a version (name/N) or name@alias / name@sha256:..., not both"
            )
        check_name(name)
        if not selector:
            raise InvalidInput(f"invalid identifier '{text}': nothing after '@' (expected an alias or sha256:...)")
        if selector.startswith("sha256:"):
            if not _DIGEST_RE.match(selector):
                raise InvalidInput(
                    f"invalid identifier '{text}': a digest is 'sha256:' followed by 4 to 64 lowercase hex digits"
                )
            return Ref(name, digest=selector)
        if re.fullmatch(r"v\d+", selector):
            return Ref(name, version=_version(selector[1:], text))
        if selector == "latest":
            return Ref(name)
        if not _ALIAS_RE.match(selector):
            raise InvalidInput(f"invalid identifier '{text}': alias '{selector}' has characters aliases cannot have")
        return Ref(name, alias=selector)
    head, sep, tail = raw.rpartition("/")
    if sep and tail.isdigit():
        if not head:
            raise InvalidInput(f"invalid identifier '{text}': the name before '/' is missing")
        check_name(head)
        return Ref(head, version=_version(tail, text))
    if sep and tail and tail[0].isdigit():
        raise InvalidInput(f"invalid identifier '{text}': version '{tail}' must be a positive integer")
    check_name(raw)
    return Ref(raw)


def _version(digits: str, text: str) -> int:
    n = int(digits)
    if n < 1:
        raise InvalidInput(f"invalid identifier '{text}': versions start at 1")
    if n > MAX_VERSION:
        raise InvalidInput(f"invalid identifier '{text}': version {digits} is too large (at most {MAX_VERSION})")
    return n


def check_version(version: object, what: str = "version") -> int:
    """A version number given apart from an identifier (``version=3``): a whole number from 1 to MAX_VERSION."""
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInput(f"{what} must be a whole number, got {version!r}", field="version")
    if not 1 <= version <= MAX_VERSION:
        raise InvalidInput(f"{what} must be between 1 and {MAX_VERSION}, got {version}", field="version")
    return version
