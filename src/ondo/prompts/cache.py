"""The SDK's prompt cache: serve at once, refresh in the background, survive a store outage.

An application calls ``ondo.prompts.get("summarize@production")`` on every request. Going to
the store each time adds latency and makes the application fail when the store is down. So:

- the first ``get`` of an identifier fetches it and caches the version;
- within the TTL (``ONDO_PROMPT_CACHE_TTL`` seconds, default 60) the cached version is served;
- after the TTL the cached version is still served at once, and one background thread
  re-resolves the identifier (an alias may have moved);
- when the store cannot be reached the cached version keeps being served, with a
  ``PromptCacheWarning`` (and a log line) saying how old it is and why;
- pinned identifiers (``name/N``, ``name@sha256:...``) name immutable content: never refreshed;
- ``ONDO_PROMPT_CACHE_TTL=0`` turns caching off: every ``get`` asks the store, and falls back
  to the last version seen (with the warning) only when the store is unreachable;
- writes made by this process (register, set_alias, rollback, tags) drop that name's entries,
  so a process always sees its own changes at once. Other processes see them within the TTL.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ondo.errors import InvalidInput, NotFound, StoreError
from ondo.ids import parse_ref

if TYPE_CHECKING:
    from ondo.prompts.versions import PromptVersion

log = logging.getLogger("ondo.prompts")

DEFAULT_TTL = 60.0
# Errors that mean "the store could not answer", as opposed to an answer such as NotFound.
UNREACHABLE: tuple[type[BaseException], ...] = (StoreError, DBAPIError, SQLAlchemyError, OSError, TimeoutError)

Fetch = Callable[[str, str], "PromptVersion"]  # (store url, identifier) -> version


class PromptCacheWarning(UserWarning):
    """A cached prompt was served because the store could not be reached."""


def ttl_from_env() -> float:
    raw = os.environ.get("ONDO_PROMPT_CACHE_TTL")
    if raw is None or raw.strip() == "":
        return DEFAULT_TTL
    try:
        ttl = float(raw)
    except ValueError:
        raise InvalidInput(f"ONDO_PROMPT_CACHE_TTL must be a number of seconds, got {raw!r}") from None
    if ttl < 0:
        raise InvalidInput(f"ONDO_PROMPT_CACHE_TTL must be >= 0, got {raw!r}")
    return ttl


@dataclass
class _Entry:
    value: PromptVersion
    fetched_at: float  # clock() when the value was last confirmed by the store
    retry_at: float = 0.0  # after a failed refresh: no new attempt before this clock() time
    refreshing: bool = False
    error: BaseException | None = None  # why the last refresh failed; None when it worked


class PromptCache:
    """A thread-safe cache of resolved prompt identifiers, per store."""

    def __init__(
        self, fetch: Fetch, *, ttl: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._threads: set[threading.Thread] = set()

    @property
    def ttl(self) -> float:
        return ttl_from_env() if self._ttl is None else self._ttl

    def get(
        self, store: str, ref: str, *, ttl: float | None = None, fetch: Fetch | None = None
    ) -> PromptVersion:
        """The version ``ref`` names in ``store``; ``fetch`` overrides how the store is asked."""
        fetch = fetch or self._fetch
        r = parse_ref(ref)
        key = (store, str(r))
        pinned = r.version is not None or r.digest is not None
        ttl = self.ttl if ttl is None else ttl
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and ttl > 0:
                if pinned or now - entry.fetched_at < ttl or now < entry.retry_at:
                    if entry.error is not None and not pinned:
                        self._warn(key, entry, now)
                    return entry.value
                if not entry.refreshing:
                    entry.refreshing = True
                    self._start_refresh(key, ttl, fetch)
                if entry.error is not None:
                    self._warn(key, entry, now)
                return entry.value
        # no entry yet, or caching is off: ask the store now
        try:
            value = fetch(store, key[1])
        except UNREACHABLE as exc:
            with self._lock:
                entry = self._entries.get(key)
                if entry is None:
                    raise
                entry.error = exc
                self._warn(key, entry, now)
                return entry.value
        except NotFound:
            self.forget(store, key[1])
            raise
        self._put(key, value)
        return value

    def _put(self, key: tuple[str, str], value: PromptVersion) -> None:
        now = self._clock()
        with self._lock:
            self._entries[key] = _Entry(value, now)

    def _start_refresh(self, key: tuple[str, str], ttl: float, fetch: Fetch) -> None:
        t = threading.Thread(target=self._refresh, args=(key, ttl, fetch), name=f"ondo-prompt-refresh {key[1]}", daemon=True)
        self._threads.add(t)
        t.start()

    def _refresh(self, key: tuple[str, str], ttl: float, fetch: Fetch) -> None:
        try:
            value = fetch(*key)
        except NotFound:
            with self._lock:
                self._entries.pop(key, None)  # the alias or prompt is gone: next get() asks and raises
        except Exception as exc:
            log.warning("could not refresh prompt %s from the store: %s; serving the cached version", key[1], exc)
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    entry.error = exc
                    entry.refreshing = False
                    entry.retry_at = self._clock() + min(ttl, 5.0)  # retry soon, but not in a tight loop
        else:
            self._put(key, value)
        finally:
            self._threads.discard(threading.current_thread())

    def _warn(self, key: tuple[str, str], entry: _Entry, now: float) -> None:
        age = now - entry.fetched_at
        msg = (
            f"prompt store unreachable ({type(entry.error).__name__}: {_first_line(entry.error)}); serving cached "
            f"{key[1]} = {entry.value.ref} confirmed {age:.0f}s ago"
        )
        log.warning(msg)
        warnings.warn(msg, PromptCacheWarning, stacklevel=4)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for background refreshes in flight (tests, and a clean shutdown)."""
        for t in list(self._threads):
            t.join(timeout)

    def refresh(self, store: str, ref: str, *, fetch: Fetch | None = None) -> PromptVersion:
        """Re-resolve ``ref`` now, bypassing the cache, and cache the answer."""
        key = (store, str(parse_ref(ref)))
        value = (fetch or self._fetch)(*key)
        self._put(key, value)
        return value

    def forget(self, store: str, ref: str) -> None:
        with self._lock:
            self._entries.pop((store, str(parse_ref(ref))), None)

    def invalidate(self, store: str, name: str | None = None) -> None:
        """Drop the entries of ``name`` (every name when None) for ``store``."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == store and (name is None or parse_ref(k[1]).name == name)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def info(self) -> dict[str, dict[str, object]]:
        """What is cached: identifier -> version, age, whether the last refresh failed."""
        now = self._clock()
        with self._lock:
            return {
                f"{k[1]}": {"ref": e.value.ref, "age_s": now - e.fetched_at, "stale": now - e.fetched_at >= self.ttl,
                            "error": None if e.error is None else str(e.error)}
                for k, e in self._entries.items()
            }


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _fetch_from_store(store: str, ref: str) -> PromptVersion:
    from ondo.prompts.versions import get
    from ondo.workspace import Workspace

    return get(Workspace.for_url(store), ref)


_default: PromptCache | None = None
_default_lock = threading.Lock()


def default_cache() -> PromptCache:
    """The process-wide cache ``ondo.prompts.get`` uses."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PromptCache(_fetch_from_store)
        return _default
