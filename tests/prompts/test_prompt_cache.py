"""The SDK prompt cache: served at once, refreshed in the background, served (with a warning) when the store is down."""

from __future__ import annotations

import os
import shutil
import threading
import warnings
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

import ondo
from ondo.errors import InvalidInput, NotFound
from ondo.prompts.cache import PromptCache, PromptCacheWarning, default_cache, ttl_from_env
from ondo.prompts.versions import PromptVersion
from ondo.workspace import Workspace


def _version(n: int) -> PromptVersion:
    return PromptVersion("p", n, f"sha256:{n:064x}", f"v{n}", None, [], None, {}, None, 0.0, "t")


class FakeStore:
    """Answers get() with the version the test says the alias points at; can be made unreachable or slow."""

    def __init__(self) -> None:
        self.version = 1
        self.calls = 0
        self.down = False
        self.gate: threading.Event | None = None

    def fetch(self, store: str, ref: str) -> PromptVersion:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(5)
        if self.down:
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return _version(self.version)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_serves_cached_within_ttl_then_refreshes_in_background() -> None:
    store, clock = FakeStore(), Clock()
    cache = PromptCache(store.fetch, ttl=60, clock=clock)
    assert cache.get("db", "p@production").version == 1 and store.calls == 1
    store.version = 2
    clock.now += 30
    assert cache.get("db", "p@production").version == 1 and store.calls == 1  # fresh: no store call
    clock.now += 31
    store.gate = threading.Event()  # hold the refresh to prove get() does not wait for it
    assert cache.get("db", "p@production").version == 1  # stale: served at once...
    store.gate.set()
    cache.wait(5)
    assert store.calls == 2  # ...while one background refresh ran
    assert cache.get("db", "p@production").version == 2


def test_unreachable_store_serves_cached_with_a_warning() -> None:
    store, clock = FakeStore(), Clock()
    cache = PromptCache(store.fetch, ttl=10, clock=clock)
    cache.get("db", "p@production")
    store.down, store.version = True, 2
    clock.now += 11
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the first stale get must not wait for the store, nor warn yet
        assert cache.get("db", "p@production").version == 1
    cache.wait(5)
    with pytest.warns(PromptCacheWarning, match="store unreachable.*connection refused"):
        assert cache.get("db", "p@production").version == 1
    assert cache.info()["p@production"]["error"]
    store.down = False
    clock.now += 6  # the failed refresh is retried after min(ttl, 5) seconds
    with pytest.warns(PromptCacheWarning):  # still the old copy until the retry lands
        cache.get("db", "p@production")
    cache.wait(5)
    assert cache.get("db", "p@production").version == 2
    assert cache.info()["p@production"]["error"] is None


def test_ttl_zero_asks_every_time_and_falls_back_when_down() -> None:
    store = FakeStore()
    cache = PromptCache(store.fetch, ttl=0)
    cache.get("db", "p@production")
    store.version = 2
    assert cache.get("db", "p@production").version == 2 and store.calls == 2
    store.down = True
    with pytest.warns(PromptCacheWarning):
        assert cache.get("db", "p@production").version == 2


def test_unreachable_without_a_cached_copy_raises() -> None:
    store = FakeStore()
    store.down = True
    with pytest.raises(OperationalError):
        PromptCache(store.fetch, ttl=60).get("db", "p@production")


def test_pinned_versions_are_never_refreshed() -> None:
    store, clock = FakeStore(), Clock()
    cache = PromptCache(store.fetch, ttl=1, clock=clock)
    cache.get("db", "p/1")
    clock.now += 1000
    cache.get("db", "p/1")
    cache.wait(5)
    assert store.calls == 1


def test_entries_are_per_store_and_invalidated_by_name() -> None:
    store = FakeStore()
    cache = PromptCache(store.fetch, ttl=60)
    cache.get("db1", "p@production")
    cache.get("db2", "p@production")
    assert store.calls == 2
    cache.invalidate("db1", "p")
    cache.get("db1", "p@production")
    cache.get("db2", "p@production")
    assert store.calls == 3


def test_ttl_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONDO_PROMPT_CACHE_TTL", "2.5")
    assert ttl_from_env() == 2.5
    monkeypatch.setenv("ONDO_PROMPT_CACHE_TTL", "soon")
    with pytest.raises(InvalidInput, match="ONDO_PROMPT_CACHE_TTL"):
        ttl_from_env()
    monkeypatch.delenv("ONDO_PROMPT_CACHE_TTL")
    assert ttl_from_env() == 60


def test_this_process_sees_its_own_alias_moves_at_once(workspace: Workspace) -> None:
    ondo.prompts.register("s", template="one {{ x }}")
    ondo.prompts.register("s", template="two {{ x }}")
    ondo.prompts.set_alias("s", "production", version=1)
    assert ondo.prompts.get("s@production").render(x="!") == "one !"
    ondo.prompts.set_alias("s", "production", version=2)
    assert ondo.prompts.get("s@production").render(x="!") == "two !"
    ondo.prompts.rollback("s", "production")
    assert ondo.prompts.get("s@production").version == 1
    ondo.prompts.register("s", template="three {{ x }}")
    assert ondo.prompts.get("s").version == 3
    ondo.prompts.remove_alias("s", "production")
    with pytest.raises(NotFound):
        ondo.prompts.get("s@production")


def test_another_process_move_is_seen_after_the_ttl(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from ondo import aliases

    ondo.prompts.register("s", template="one {{ x }}")
    ondo.prompts.register("s", template="two {{ x }}")
    ondo.prompts.set_alias("s", "production", version=1)
    assert ondo.prompts.get("s@production", ttl=3600).version == 1
    aliases.move(workspace, "prompt", "s", "production", 2)  # as another process would: no invalidation here
    assert ondo.prompts.get("s@production", ttl=3600).version == 1
    assert ondo.prompts.get("s@production", ttl=1e-9).version == 1  # stale: served, refresh started
    default_cache().wait(5)
    assert ondo.prompts.get("s@production", ttl=3600).version == 2


def _make_store_unreachable(workspace: Workspace, ondo_home: Path) -> None:
    """SQLite: delete the store's folder. PostgreSQL: drop the test's database, closing its connections."""
    url = workspace.settings.store_url
    workspace.engine.dispose()
    if not url.startswith("postgresql"):
        shutil.rmtree(ondo_home)
        return
    import sqlalchemy as sa

    admin_url = os.environ.get("ONDO_TEST_PG_URL") or url.rsplit("/", 1)[0] + "/postgres"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    admin.dispose()


def test_real_store_gone_serves_cached_prompt(workspace: Workspace, ondo_home: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONDO_PROMPT_CACHE_TTL", "0")
    ondo.prompts.register("s", template="hello {{ x }}")
    ondo.prompts.set_alias("s", "production", version=1)
    assert ondo.prompts.get("s@production").render(x="a") == "hello a"
    _make_store_unreachable(workspace, ondo_home)
    with pytest.warns(PromptCacheWarning, match="serving cached s@production"):
        p = ondo.prompts.get("s@production")
    assert p.render(x="b") == "hello b"
    with pytest.raises(Exception):  # noqa: B017 - not cached: the store's own error surfaces
        ondo.prompts.get("s/1")
