"""API keys: stored hashed, required off loopback, scoped to models, with budgets and rate limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from fake_openai_backend import FakeBackend
from gateway_harness import asgi_client, chat_body, run
from typer.testing import CliRunner

from ondo.cli.main import app as cli
from ondo.cli.serve import is_loopback
from ondo.gateway.keys import create_key, list_keys, revoke_key
from ondo.server.app import create_app
from ondo.store.tables.keys import api_keys
from ondo.traces import list_spans
from ondo.workspace import Workspace


def _chat(app: Any, key: str | None, model: str = "assistant@production", base_url: str = "http://127.0.0.1:8000",
          n: int = 1) -> list[Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}

    async def go() -> list[Any]:
        async with asgi_client(app, base_url) as c:
            return [await c.post("/v1/chat/completions", json=chat_body(model), headers=headers) for _ in range(n)]

    return run(go)


def test_keys_are_stored_hashed_and_listed_without_secret(workspace: Workspace) -> None:
    created = create_key(workspace, name="svc", models=["assistant"], budget_usd=2.5, rpm=30)
    assert created.key.startswith("ondo-sk-")
    with workspace.read() as conn:
        row = conn.execute(sa.select(api_keys)).one()
    assert created.key not in " ".join(str(v) for v in row)
    assert len(row.key_hash) == 64 and created.key.split("-")[2] == row.prefix
    [info] = list_keys(workspace)
    assert (info.name, info.models, info.budget_usd, info.rpm) == ("svc", ["assistant"], 2.5, 30)
    revoke_key(workspace, "svc")
    assert list_keys(workspace) == [] and len(list_keys(workspace, include_revoked=True)) == 1


def test_cli_create_list_revoke(workspace: Workspace) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["keys", "create", "--name", "ci", "--models", "assistant,openai:*",
                              "--budget-usd", "5", "--rpm", "60", "--json"])
    assert out.exit_code == 0, out.output
    created = json.loads(out.output)
    assert created["key"].startswith("ondo-sk-") and created["models"] == ["assistant", "openai:*"]
    listed = json.loads(runner.invoke(cli, ["keys", "list", "--json"]).output)
    assert [k["name"] for k in listed] == ["ci"] and "key" not in listed[0]
    dup = runner.invoke(cli, ["keys", "create", "--name", "ci"])
    assert dup.exit_code != 0 and "exists" in dup.output
    assert runner.invoke(cli, ["keys", "revoke", "ci", "--json"]).exit_code == 0
    assert json.loads(runner.invoke(cli, ["keys", "list", "--json"]).output) == []


def test_cli_create_takes_the_name_as_an_argument(workspace: Workspace) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["keys", "create", "bot", "--budget", "1.5", "--rate-limit", "10", "--json"])
    assert out.exit_code == 0, out.output
    created = json.loads(out.output)
    assert (created["name"], created["budget_usd"], created["rpm"]) == ("bot", 1.5, 10)
    missing = runner.invoke(cli, ["keys", "create"])
    assert missing.exit_code == 1 and "needs a name" in missing.output and "Traceback" not in missing.output
    both = runner.invoke(cli, ["keys", "create", "a", "--name", "b"])
    assert both.exit_code == 1 and "two names" in both.output


def test_missing_and_wrong_keys_are_401(workspace: Workspace, assistant: FakeBackend) -> None:
    good = create_key(workspace, name="svc").key
    app = create_app(workspace, require_keys=True)
    [missing] = _chat(app, None)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key"
    [wrong] = _chat(app, good[:-4] + "AAAA")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    [garbage] = _chat(app, "sk-something-else")
    assert garbage.status_code == 401
    [ok] = _chat(app, good)
    assert ok.status_code == 200
    assert assistant.requests == 1


def test_keys_required_on_non_loopback_address(workspace: Workspace, assistant: FakeBackend) -> None:
    app = create_app(workspace)  # keys optional on loopback...
    [local] = _chat(app, None)
    assert local.status_code == 200
    [remote] = _chat(app, None, base_url="http://10.1.2.3:8000")  # ...but not on another interface
    assert remote.status_code == 401
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")


def test_revoked_key_is_refused(workspace: Workspace, assistant: FakeBackend) -> None:
    key = create_key(workspace, name="svc").key
    app = create_app(workspace, require_keys=True)
    app.state.gateway.keys.cache_ttl_s = 0
    assert _chat(app, key)[0].status_code == 200
    revoke_key(workspace, "svc")
    r = _chat(app, key)[0]
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


def test_key_scoped_to_models(workspace: Workspace, assistant: FakeBackend) -> None:
    key = create_key(workspace, name="svc", models=["assistant@production"]).key
    app = create_app(workspace, require_keys=True)
    assert _chat(app, key)[0].status_code == 200
    r = _chat(app, key, model="assistant/2")[0]
    assert r.status_code == 403 and r.json()["error"]["code"] == "model_not_allowed"
    wide = create_key(workspace, name="wide", models=["assistant"]).key
    assert [r.status_code for r in _chat(app, wide, "assistant/2") + _chat(app, wide)] == [200, 200]


def test_rate_limit_is_429_with_retry_after(workspace: Workspace, assistant: FakeBackend) -> None:
    key = create_key(workspace, name="svc", rpm=3).key
    app = create_app(workspace, require_keys=True)
    statuses = [r.status_code for r in _chat(app, key, n=5)]
    assert statuses == [200, 200, 200, 429, 429]
    r = _chat(app, key)[0]
    assert r.json()["error"]["type"] == "rate_limit_exceeded" and int(r.headers["retry-after"]) >= 1


def test_budget_exceeded_is_429(workspace: Workspace, assistant: FakeBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    import ondo.gateway.service as service

    monkeypatch.setattr(service, "price", lambda provider, model, usage: 0.01 * usage.output_tokens)  # $0.05 a call
    key = create_key(workspace, name="svc", budget_usd=0.12).key
    app = create_app(workspace, require_keys=True)
    statuses = [r.status_code for r in _chat(app, key, n=4)]
    assert statuses == [200, 200, 200, 429]  # 0.10 < 0.12 lets the third through; 0.15 stops the fourth
    r = _chat(app, key)[0]
    assert r.json()["error"]["type"] == "insufficient_quota" and "budget" in r.json()["error"]["message"]
    app.state.gateway.keys.flush()
    [info] = list_keys(workspace)
    assert info.spent_usd == pytest.approx(0.15) and info.last_used_at is not None
    # another gateway process sees the stored spend
    other = create_app(workspace, require_keys=True)
    assert _chat(other, key)[0].status_code == 429


def test_budget_priced_from_the_price_table(
    workspace: Workspace, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", backend.url)
    from ondo.gateway.pricing import price
    from ondo.llm.types import Usage

    unit = price("openai", "gpt-4o-mini", Usage(input_tokens=10, output_tokens=5))
    if not unit:
        pytest.skip("the price table has no entry for openai gpt-4o-mini yet")
    # two answers fit in the budget, the third does not
    key = create_key(workspace, name="svc", budget_usd=unit * 2.5).key
    app = create_app(workspace, require_keys=True)
    statuses = [r.status_code for r in _chat(app, key, model="openai:gpt-4o-mini", n=4)]
    assert statuses == [200, 200, 200, 429]
    app.state.gateway.keys.flush()
    [info] = list_keys(workspace)
    assert info.spent_usd == pytest.approx(unit * 3)
    assert app.state.gateway.tracer.flush(30)
    costs = [s.cost_usd for s in list_spans(workspace, status="ok")]
    assert costs == [pytest.approx(unit)] * 3


def test_zero_budget_refuses_at_once(workspace: Workspace, assistant: FakeBackend) -> None:
    key = create_key(workspace, name="svc", budget_usd=0).key
    r = _chat(create_app(workspace, require_keys=True), key)[0]
    assert r.status_code == 429 and r.json()["error"]["code"] == "budget_exceeded"
    assert assistant.requests == 0
